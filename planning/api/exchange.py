"""The parcels' import and export actions (`ParcelExchangeMixin`, mixed into `ParcelViewSet`), their serializers and
the export's renderers.

`POST /api/v1/parcels/import/` reads a GeoJSON FeatureCollection (`planning.exchange`) and applies it through
`services.parcels_import`, all or nothing (`?dry_run=true`: what would change, nothing saved). `GET
/api/v1/parcels/export/?format=csv|xlsx|geojson` (or `json`, the default) writes the parcels the list's filters
select, unpaginated, one row per parcel (`exchange.export_table`, three queries whatever their number).

Renderers, and why these:
* XLSX: drf-excel (maintained, released 2026, on openpyxl) fits: cells typed from a serializer's fields (numbers
  as numbers, dates as dates), text cells that a spreadsheet would take for a formula prefixed with ' (its own
  `sanitize_value`, the rule of `exchange.neutralise`), column widths and header styles, a sheet view with the
  header row frozen. It reads all that from "the view"; `ParcelXLSXRenderer` hands it a small layout object
  instead, so the viewset keeps no spreadsheet attributes.
* CSV: the standard library's `csv` writer, in a dozen lines. djangorestframework-csv was not taken: unreleased
  since 2023, no formula neutralisation, and its non-streaming renderer writes no byte-order mark, which Excel
  needs to read UTF-8 (Chinese names) correctly; we would have overridden most of it.
* GeoJSON and JSON: DRF's JSONRenderer.

`?format=` is DRF's URL_FORMAT_OVERRIDE: it picks among this action's renderers only, so it works here and
nowhere else on the parcels; an unknown format answers 400 naming the ones there are (DRF's default is a 404).
Errors of the export (and its OPTIONS) are always JSON, whatever format was asked for.
"""

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_excel.renderers import XLSXRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from openpyxl.worksheet.views import Pane
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from .. import exchange, services
from ..models import Campus

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FORMATS = ("json", "csv", "xlsx", "geojson")


# --- import -----------------------------------------------------------------------------------------------------


class FeatureCollectionField(serializers.JSONField):
    """An import file's FeatureCollection; read feature by feature by `planning.exchange`."""


extend_schema_field(
    {
        "type": "object",
        "description": (
            "GeoJSON FeatureCollection of parcels. Each feature: a Polygon geometry (null keeps an existing "
            "parcel's polygon) and properties `code` (required), optional `phase` (the phase's number in the "
            "campus; null = reserve), `lot_ref`, `zoning`, `max_plot_ratio`, `max_site_coverage_pct`, "
            "`max_building_height_mpd`, `surveyed_area_m2`, `land_status`, `handover_date` (YYYY-MM-DD). Other "
            "properties are ignored. A legacy `crs` member naming EPSG:4326 or EPSG:2326 is honoured."
        ),
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["type", "features"],
    }
)(FeatureCollectionField)


class ParcelImportSerializer(serializers.Serializer):
    campus = serializers.PrimaryKeyRelatedField(queryset=Campus.objects.none(), help_text="The campus to import into.")
    crs = serializers.ChoiceField(
        choices=exchange.CRS_CHOICES,
        required=False,
        help_text=(
            "EPSG:4326 (WGS84 longitude/latitude) or EPSG:2326 (HK1980 Grid easting/northing, metres). "
            "Optional when the collection has a legacy `crs` member; the two must agree."
        ),
    )
    collection = FeatureCollectionField()
    expected_versions = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        help_text=(
            "Parcel code → version, as a dry run answered them: a parcel changed, added or deleted since is refused."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["campus"].queryset = Campus.objects.restrict(request.user, "change")


class ImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


class ImportChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class ImportedFeatureSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the collection's features, from 0.")
    code = serializers.CharField()
    action = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    changes = ImportChangeSerializer(many=True, help_text="The fields set (all given, for a new parcel).")
    geometry_changed = serializers.BooleanField()
    site_area_m2 = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    previous_site_area_m2 = serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    version = serializers.IntegerField(allow_null=True, help_text="The parcel's version before the import.")


class ImportResultSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField(), help_text="Codes of the parcels created.")
    updated = serializers.ListField(child=serializers.CharField(), help_text="Codes of the parcels updated.")
    unchanged = serializers.ListField(child=serializers.CharField(), required=False)
    features = ImportedFeatureSerializer(many=True, required=False, help_text="Dry run only: feature by feature.")

    def to_representation(self, outcome: services.ImportOutcome):
        data = {"created": outcome.codes(services.IMPORT_CREATED), "updated": outcome.codes(services.IMPORT_UPDATED)}
        if outcome.dry_run:
            data["unchanged"] = outcome.codes(services.IMPORT_UNCHANGED)
            data["features"] = ImportedFeatureSerializer(outcome.features, many=True).data
        return data


class ImportRefusalSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        allow_null=True, help_text="Position in the collection's features, from 0; null: the file as a whole."
    )
    code = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    field = serializers.CharField(allow_null=True, help_text="The property concerned (or geometry); may be null.")


class ImportRefusedSerializer(serializers.Serializer):
    refused = ImportRefusalSerializer(
        many=True, required=False, help_text="Every reason of every feature refused. Nothing was saved."
    )


# --- export -----------------------------------------------------------------------------------------------------


def export_row_serializer(columns: list[str]) -> type[serializers.Serializer]:
    """A serializer typing the export's columns: what drf-excel writes each cell as."""
    number = {"max_digits": 14, "decimal_places": 2, "allow_null": True, "coerce_to_string": False}
    fields = {}
    for column in columns:
        if column in exchange.TEXT_COLUMNS:
            fields[column] = serializers.CharField()
        elif column == "phase":
            fields[column] = serializers.IntegerField(allow_null=True, help_text="Phase number; null = reserve.")
        elif column == "handover_date":
            fields[column] = serializers.DateField(allow_null=True)
        else:
            fields[column] = serializers.DecimalField(**number)
    return type("ParcelExportRowSerializer", (serializers.Serializer,), fields)


# The schema's row: the fixed columns; a `gfa_<type code>_m2` column per facility type stands between
# site_area_m2 and gfa_m2.
ParcelExportRowSerializer = export_row_serializer(exchange.export_columns([]))


def column_width(column: str) -> int:
    return 30 if column == "lot_ref" else max(len(column) + 3, 12)


NUMBER_FORMATS = {
    "phase": "0",
    "max_plot_ratio": "0.00",
    "max_site_coverage_pct": "0.00",
    "max_building_height_mpd": "0.0",
}


class SheetLayout:
    """What drf-excel reads from "the view": the cells' types (a serializer), the header row and the sheet view."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.header = {"use_header": False, "tab_title": str(_("Parcels"))}
        self.column_header = {
            "titles": columns,
            "column_width": [column_width(column) for column in columns],
            "height": None,
            "style": {"font": {"bold": True}, "fill": {"fill_type": "solid", "start_color": "FFE8EEF4"}},
        }
        self.body = {"height": None}
        self.column_data_styles = {
            column: {"format": NUMBER_FORMATS.get(column, "#,##0.00")}
            for column in columns
            if column not in exchange.TEXT_COLUMNS and column != "handover_date"
        }
        # The header row frozen: what `worksheet.freeze_panes = "A2"` sets.
        self.sheet_view_options = {"pane": Pane(ySplit=1, topLeftCell="A2", activePane="bottomLeft", state="frozen")}

    def get_serializer(self):
        return export_row_serializer(self.columns)()


class ParcelXLSXRenderer(XLSXRenderer):
    media_type = XLSX_MEDIA_TYPE
    charset = None  # a binary file

    def render(self, data, accepted_media_type=None, renderer_context=None):
        layout = SheetLayout(renderer_context["view"].export_columns)
        return super().render(data, accepted_media_type, {**renderer_context, "view": layout})


class ParcelCSVRenderer(BaseRenderer):
    """CSV, UTF-8 with a byte-order mark (so Excel reads Chinese right), a header row of the column names."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns = renderer_context["view"].export_columns
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in data:
            writer.writerow([exchange.csv_cell(row[column]) for column in columns])
        return "\ufeff".encode() + buffer.getvalue().encode()


class ParcelGeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class ExportNegotiation(DefaultContentNegotiation):
    """`?format=` picks among the export's renderers; an unknown one is a 400 naming those there are."""

    def filter_renderers(self, renderers, format):
        chosen = [renderer for renderer in renderers if renderer.format == format]
        if not chosen:
            raise ValidationError(
                {"format": [_("Choose a format of %(formats)s.") % {"formats": ", ".join(EXPORT_FORMATS)}]}
            )
        return chosen


class ExportFeatureSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    geometry = serializers.JSONField(help_text="GeoJSON Polygon, WGS84.")
    properties = ParcelExportRowSerializer()


class ExportFeatureCollectionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = ExportFeatureSerializer(many=True)


# --- the actions ------------------------------------------------------------------------------------------------


class ParcelExchangeMixin:
    """The parcels' `import` and `export` actions (for `ParcelViewSet`)."""

    @extend_schema(
        request=ParcelImportSerializer,
        parameters=[
            OpenApiParameter(
                "dry_run",
                bool,
                description="Answer what would change, feature by feature, and save nothing.",
                default=False,
            )
        ],
        responses={200: ImportResultSerializer, 400: ImportRefusedSerializer},
        filters=False,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        filter_backends=[],
        pagination_class=None,
    )
    def import_parcels(self, request):
        """Create or update the campus's parcels from a GeoJSON FeatureCollection (WGS84 or HK1980 Grid), matched
        by code: every feature applied, or none. A refusal lists every reason of every feature refused."""
        query = ImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = ParcelImportSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        features = exchange.read_collection(data["collection"], crs=data.get("crs"))
        try:
            outcome = services.parcels_import(
                campus=data["campus"],
                actor=request.user,
                features=features,
                dry_run=query.validated_data["dry_run"],
                expected_versions=data.get("expected_versions"),
            )
        except exchange.ImportRefused as refused:
            return Response(
                {"refused": ImportRefusalSerializer(refused.refusals, many=True).data},
                status=400,
            )
        return Response(ImportResultSerializer(outcome).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=EXPORT_FORMATS,
                description=(
                    "csv (UTF-8 with BOM), xlsx, geojson (a FeatureCollection, WGS84) or json (the default: the "
                    "rows). Each downloads as innopole-parcels-<date>.<format>."
                ),
            )
        ],
        responses={
            (200, "application/json"): ParcelExportRowSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, XLSX_MEDIA_TYPE): OpenApiTypes.BINARY,
            (200, "application/geo+json"): ExportFeatureCollectionSerializer,
        },
        filters=True,
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        renderer_classes=[JSONRenderer, ParcelCSVRenderer, ParcelXLSXRenderer, ParcelGeoJSONRenderer],
        content_negotiation_class=ExportNegotiation,
    )
    def export(self, request):
        """The parcels the filters select, one row per parcel: code, phase, lot, zoning, controls, site area, GFA
        by facility type (`gfa_<type code>_m2`), total GFA, GFA cap, land status and handover date. Unpaginated."""
        parcels = self.filter_queryset(self.get_queryset())
        chosen = request.accepted_renderer.format
        table = exchange.export_table(parcels, with_geometry=chosen == "geojson")
        self.export_columns = table.columns
        data = exchange.export_features(table) if chosen == "geojson" else table.rows
        headers = {}
        if chosen != "json":
            filename = f"innopole-parcels-{timezone.localdate().isoformat()}.{chosen}"
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return Response(data, headers=headers)

    def finalize_response(self, request, response, *args, **kwargs):
        # Anything but the export's rows (an error: a bad filter, no sign-in, a method not allowed; or the answer to
        # OPTIONS) is JSON, even when ?format= asked for a spreadsheet.
        spreadsheet = isinstance(getattr(request, "accepted_renderer", None), ParcelCSVRenderer | ParcelXLSXRenderer)
        if spreadsheet and not hasattr(self, "export_columns"):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
