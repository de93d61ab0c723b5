"""List filters that scale: an object picked by typing (not a list of every URL there is),
and a time range to the minute."""

from datetime import datetime

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class AutocompleteFilter(admin.SimpleListFilter):
    """Filter by a related object chosen in the admin's own autocomplete (select2, shipped with Django).

    Subclasses name the query parameter, the lookup it filters on, and the foreign key whose
    autocomplete the picker uses (`source`: "app_label.Model.field"; the target's admin needs
    search_fields).
    """

    template = "console/autocomplete_filter.html"
    lookup: str
    source: str

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.admin_site = model_admin.admin_site

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def choices(self, changelist):
        return ()

    def queryset(self, request, queryset):
        return queryset.filter(**{self.lookup: self.value()}) if self.value() else queryset

    @property
    def picker(self) -> str:
        """The select2 box of the admin's autocomplete widget, showing the chosen object if any."""
        app_label, model_name, field_name = self.source.split(".")
        foreign_key = apps.get_model(app_label, model_name)._meta.get_field(field_name)
        field = forms.ModelChoiceField(
            queryset=foreign_key.remote_field.model._default_manager.all(),
            widget=AutocompleteSelect(foreign_key, self.admin_site, attrs={
                "data-filter-parameter": self.parameter_name, "aria-label": f"By {self.title}",
            }),
            required=False,
        )
        return field.widget.render(self.parameter_name, self.value())


def autocomplete_filter(title: str, parameter_name: str, lookup: str, source: str) -> type[AutocompleteFilter]:
    """An AutocompleteFilter class, as list_filter takes classes."""
    attributes = {"title": title, "parameter_name": parameter_name, "lookup": lookup, "source": source}
    return type(f"{parameter_name.title()}AutocompleteFilter", (AutocompleteFilter,), attributes)


class TimeRangeFilter(admin.FieldListFilter):
    """From and to (exclusive) a minute, in the current time zone: "since 14:00" in two clicks."""

    template = "console/time_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.since_parameter, self.until_parameter = f"{field_path}__gte", f"{field_path}__lt"
        super().__init__(field, request, params, model, model_admin, field_path)
        # Its little form keeps the list's other filters and search.
        ours = {*self.expected_parameters(), "p", "e"}
        self.other_parameters = [
            (key, value) for key, values in request.GET.lists() if key not in ours for value in values
        ]
        self.title = f"{field.verbose_name} (time zone {timezone.get_current_timezone_name()})"

    def expected_parameters(self):
        return [self.since_parameter, self.until_parameter]

    def has_output(self):
        return True

    def choices(self, changelist):
        return ()

    def bounds(self) -> dict[str, datetime]:
        """The given bounds, as aware datetimes (an unreadable one is ignored)."""
        bounds = {}
        for parameter in self.expected_parameters():
            value = self.used_parameters.get(parameter)
            value = value[-1] if isinstance(value, list) else value
            moment = parse_datetime(value) if value else None
            if moment is not None:
                bounds[parameter] = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        return bounds

    def queryset(self, request, queryset):
        return queryset.filter(**self.bounds())

    def input_value(self, parameter: str) -> str:
        moment = self.bounds().get(parameter)
        return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""

    @property
    def since_value(self) -> str:
        return self.input_value(self.since_parameter)

    @property
    def until_value(self) -> str:
        return self.input_value(self.until_parameter)


class ConsoleListMixin:
    """For a ModelAdmin using these filters: the admin's autocomplete assets and the console's own."""

    @property
    def media(self):
        return super().media + forms.Media(
            js=[
                "admin/js/vendor/jquery/jquery.js", "admin/js/vendor/select2/select2.full.js",
                "admin/js/jquery.init.js", "admin/js/autocomplete.js", "console/console.js",
            ],
            css={
                "screen": [
                    "admin/css/vendor/select2/select2.css", "admin/css/autocomplete.css", "console/console.css",
                ],
            },
        )
