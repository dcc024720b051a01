// The admin's changelist loads jQuery as django.jQuery only (jquery.init.js removes the global), while select2
// attaches itself to the global jQuery: lend it django.jQuery before select2.full.min.js runs. Then submit the
// filter's form whenever a value is chosen or cleared. (innopole/admin_filters.py, AutocompleteFilter.)
'use strict';
{
    if (window.django && window.django.jQuery && !window.jQuery) {
        window.jQuery = window.django.jQuery;
    }
    document.addEventListener('DOMContentLoaded', () => {
        const $ = window.django.jQuery;
        $('form.innopole-autocomplete-filter select').each(function() {
            if (this.dataset.innopoleBound) {
                return;
            }
            this.dataset.innopoleBound = '1';
            $(this).on('change', () => this.form.submit());
        });
    });
}
