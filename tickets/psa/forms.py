"""The connection form: its fields follow the PSA kind; secret fields are write-only."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.psa.crypto import mask
from tickets.psa.models import PsaConnection
from tickets.psa.services import CREDENTIALS


class HttpsUrlField(forms.URLField):
    """An address typed without a scheme is https (the PSAs' APIs are)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(assume_scheme="https", **kwargs)


class ConnectionForm(forms.ModelForm[PsaConnection]):
    webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        min_length=16,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The secret the PSA signs deliveries with (Halo: the password or token it "
        "sends). Blank keeps the stored one.",
    )
    keep_previous_secret = forms.BooleanField(
        label="Keep accepting the previous secret (while you rotate it in the PSA)",
        required=False,
    )

    class Meta:
        model = PsaConnection
        fields = ["name", "base_url", "is_active", "sync_every_minutes"]
        labels = {"base_url": "PSA address", "sync_every_minutes": "Sync every (minutes)"}
        field_classes = {"base_url": HttpsUrlField}

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        stored = self.instance.credentials if self.instance.pk else {}
        for field in CREDENTIALS[kind]:
            held = stored.get(field.name, "")
            if field.secret:
                widget: forms.Widget = forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                )
                hint = f" Stored: {mask(held)} — blank keeps it." if held else ""
                initial = ""
            else:
                widget, hint, initial = forms.TextInput(), "", held
            self.fields[f"cred_{field.name}"] = forms.CharField(
                label=field.label,
                required=not held,
                initial=initial,
                widget=widget,
                help_text=f"{field.help}{hint}".strip(),
            )
        if self.instance.pk and self.instance.webhook_secrets:
            secrets = self.instance.webhook_secrets
            self.fields["webhook_secret"].help_text += f" Stored: {mask(secrets[0])}" + (
                f" and the previous {mask(secrets[1])}." if len(secrets) > 1 else "."
            )

    def credential_fields(self) -> list[forms.BoundField]:
        return [self[f"cred_{field.name}"] for field in CREDENTIALS[self.kind]]

    def credentials(self) -> dict[str, str]:
        return {
            field.name: self.cleaned_data.get(f"cred_{field.name}", "")
            for field in CREDENTIALS[self.kind]
        }


class MappingForm(forms.Form):
    value = forms.CharField(required=False, max_length=60)
