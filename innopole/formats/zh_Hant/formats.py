"""Traditional Chinese number formats: thousands grouped with a comma, as HKSTP writes ("253,500").

Django's own zh_Hant formats leave the thousands separator empty, so Chinese pages showed "253500" beside
"1,800" in messages. Dates and the rest come from Django's zh_Hant module.
"""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
DECIMAL_SEPARATOR = "."
