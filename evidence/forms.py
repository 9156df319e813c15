from django import forms


class DatasetForm(forms.Form):
    """An evaluation dataset to upload; ``evidence.datasets`` reads and checks the file."""

    file = forms.FileField(help_text="CSV (UTF-8, header row) or Parquet.")
    name = forms.SlugField(max_length=100, help_text="e.g. holdout-2026q4")
    target_column = forms.CharField(max_length=200, help_text="The column holding the true outcome.")
    sensitive_columns = forms.CharField(
        required=False, max_length=2000, help_text="Comma-separated, e.g. age_band, region (for the fairness check)."
    )
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_sensitive_columns(self):
        return [name.strip() for name in self.cleaned_data["sensitive_columns"].split(",") if name.strip()]
