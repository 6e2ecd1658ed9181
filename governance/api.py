"""The governance REST API: the approval queue, one action and what a technician does with it,
and the agent policies managers edit.

Each endpoint validates its input with a serializer, calls a selector (reads, scoped to the
signed-in person's clients) or a service (writes, which check who may do what), and
serializes the result. A foreign action is a 404, like in the HTML pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from governance import selectors, services
from governance.kinds import KIND_CHOICES, KINDS, Mode, names_cached
from governance.models import Action, AgentPolicy, PolicyRevision, PolicyRule
from tickets.models import StaffMember, Ticket
from tickets.selectors import staff_for_user

# --- output ------------------------------------------------------------------------------


class NamedSerializer(serializers.Serializer[Any]):
    """A related object by id and name (a client, a ticket type)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class StaffSerializer(serializers.Serializer[StaffMember]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class TicketBriefSerializer(serializers.ModelSerializer[Ticket]):
    client = NamedSerializer(read_only=True, allow_null=True)
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "external_id",
            "summary",
            "client",
            "priority",
            "priority_label",
            "sla_resolution_due_at",
        ]
        read_only_fields = fields


class ProposerSerializer(serializers.Serializer[Action]):
    """Who proposed the action: a rule, model, playbook, the AI agent or a technician."""

    kind = serializers.ChoiceField(
        source="proposer_kind", choices=Action.Proposer.choices, read_only=True
    )
    name = serializers.CharField(source="proposer_name", read_only=True)
    model_version = serializers.CharField(read_only=True)
    # A declared field, not Field.label: the metaclass takes it out of the class attributes.
    label = serializers.CharField(source="proposer_label", read_only=True)  # type: ignore[assignment]


class ActionSerializer(serializers.ModelSerializer[Action]):
    """A change the automation or a technician wants on a ticket, with why and how sure."""

    ticket = TicketBriefSerializer(read_only=True)
    kind_label = serializers.SerializerMethodField()
    risk = serializers.SerializerMethodField()
    params = serializers.DictField(
        read_only=True, help_text="The parameters the action executes with (ids, not names)."
    )
    what = serializers.SerializerMethodField()
    proposer = ProposerSerializer(source="*", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    evidence = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Items with at least `label` and `detail`.",
    )

    class Meta:
        model = Action
        fields = [
            "id",
            "ticket",
            "kind",
            "kind_label",
            "risk",
            "params",
            "what",
            "proposer",
            "confidence",
            "rationale",
            "evidence",
            "status",
            "status_label",
            "status_reason",
            "created_at",
            "expires_at",
        ]
        read_only_fields = fields

    def get_kind_label(self, action: Action) -> str:
        return KINDS[action.kind].label

    @extend_schema_field(serializers.ChoiceField(choices=["low", "medium", "high"]))
    def get_risk(self, action: Action) -> str:
        return KINDS[action.kind].risk

    def get_what(self, action: Action) -> str:
        return action.what()


class ActionDetailSerializer(ActionSerializer):
    decided_by = StaffSerializer(read_only=True, allow_null=True)
    original_params = serializers.DictField(
        read_only=True,
        allow_null=True,
        help_text="What was proposed, when a technician edited the parameters before approving.",
    )
    result = serializers.DictField(read_only=True)

    class Meta(ActionSerializer.Meta):
        fields = [
            *ActionSerializer.Meta.fields,
            "decided_by",
            "decided_at",
            "rejection_reason",
            "result",
            "error",
            "original_params",
        ]
        read_only_fields = fields


class PolicyRuleSerializer(serializers.ModelSerializer[PolicyRule]):
    action_kind_label = serializers.CharField(source="get_action_kind_display", read_only=True)

    class Meta:
        model = PolicyRule
        fields = [
            "action_kind",
            "action_kind_label",
            "mode",
            "min_confidence",
            "autonomous_hours",
            "limit_per_client_hour",
            "limit_total_hour",
        ]
        read_only_fields = fields


class PolicyRevisionSerializer(serializers.ModelSerializer[PolicyRevision]):
    changed_by = StaffSerializer(read_only=True, allow_null=True)
    changes = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        read_only=True,
        help_text="Each change as [what, old value, new value].",
    )

    class Meta:
        model = PolicyRevision
        fields = ["version", "changed_by", "changed_at", "summary", "changes"]
        read_only_fields = fields


class PolicySerializer(serializers.ModelSerializer[AgentPolicy]):
    scope = serializers.CharField(source="scope_label", read_only=True)
    ticket_type = NamedSerializer(
        read_only=True, allow_null=True, help_text="Empty: every type without its own policy."
    )
    client = NamedSerializer(read_only=True, allow_null=True, help_text="Empty: every client.")
    rules = PolicyRuleSerializer(many=True, read_only=True)

    class Meta:
        model = AgentPolicy
        fields = ["id", "scope", "ticket_type", "client", "shadow_mode", "version", "rules"]
        read_only_fields = fields


class PolicyDetailSerializer(PolicySerializer):
    updated_by = StaffSerializer(read_only=True, allow_null=True)
    revisions = PolicyRevisionSerializer(many=True, read_only=True)

    class Meta(PolicySerializer.Meta):
        fields = [*PolicySerializer.Meta.fields, "updated_at", "updated_by", "revisions"]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(read_only=True)


# --- input -------------------------------------------------------------------------------


def _choices_error(what: str, choices: Iterable[str]) -> dict[str, Any]:
    return {"invalid_choice": f"“{{input}}” is not {what}; choose one of: {', '.join(choices)}."}


_SORTS = tuple(selectors.SORTS)


class QueueQuerySerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=KIND_CHOICES,
        required=False,
        help_text="Only actions of this kind.",
        error_messages=_choices_error("an action kind", KINDS),
    )
    client = serializers.IntegerField(
        min_value=1, required=False, help_text="Only actions for this client (its id)."
    )
    sort = serializers.ChoiceField(
        choices=_SORTS,
        default="sla",
        help_text="sla: nearest resolution deadline first (default); oldest; newest; "
        "confidence: most confident first.",
        error_messages=_choices_error("a sort order", _SORTS),
    )


class ApproveSerializer(serializers.Serializer[Any]):
    params = serializers.DictField(
        required=False,
        allow_empty=False,
        help_text="Edited parameters to approve instead of the proposed ones (all of them, "
        "as in `params` of the action). Leave out to approve as proposed.",
    )


class RejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=2000,
        help_text="Why, so the rule, model or playbook that proposed it can improve.",
        error_messages={
            "required": "Say why you reject it, so the proposer can improve.",
            "blank": "Say why you reject it, so the proposer can improve.",
        },
    )


class RuleInputSerializer(serializers.Serializer[Any]):
    action_kind = serializers.ChoiceField(
        choices=KIND_CHOICES, error_messages=_choices_error("an action kind", KINDS)
    )
    mode = serializers.ChoiceField(
        choices=Mode.CHOICES, error_messages=_choices_error("a mode", Mode.ORDER)
    )
    min_confidence = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        default=Decimal("0.90"),
        help_text="0 to 1: below this, an autonomous action waits for approval instead.",
    )
    autonomous_hours = serializers.ChoiceField(
        choices=PolicyRule.Hours.choices,
        default=PolicyRule.Hours.ANY,
        error_messages=_choices_error("an hours setting", PolicyRule.Hours.values),
    )
    limit_per_client_hour = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        default=None,
        help_text="At most this many executions per client per hour (null: no limit).",
    )
    limit_total_hour = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        default=None,
        help_text="At most this many executions per hour across all clients (null: no limit).",
    )


class PolicyInputSerializer(serializers.Serializer[Any]):
    shadow_mode = serializers.BooleanField(
        help_text="Propose as usual but execute nothing, to compare with what technicians did."
    )
    rules = RuleInputSerializer(
        many=True,
        help_text="One rule per action kind; each replaces that kind's rule. Kinds left out "
        "keep their current rule.",
    )

    def validate_rules(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for rule in rules:
            if rule["action_kind"] in seen:
                raise serializers.ValidationError(
                    f"Give each action kind at most once; {rule['action_kind']} appears twice."
                )
            seen.add(rule["action_kind"])
        return rules


# --- errors ------------------------------------------------------------------------------


def _field_errors(error: DjangoValidationError) -> dict[str, Any]:
    """A service's ValidationError as DRF field errors: {field: [messages]}."""
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else key: messages
        for key, messages in error.message_dict.items()
    }


def _params_errors(error: DjangoValidationError) -> dict[str, Any]:
    """Errors about parameters go under `params`, keyed by parameter name, as in the body."""
    if not hasattr(error, "error_dict"):
        return _field_errors(error)
    errors = _field_errors(error)
    if "params" in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop("params")
    return {"params": errors}


_BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Field errors: an object keyed by field name, each a list of messages "
    "(`non_field_errors` for the request as a whole).",
)
_NOT_SIGNED_IN_OR_DENIED = OpenApiResponse(
    ErrorSerializer, description="Not signed in, or not allowed to do this."
)
_NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object among the clients you serve."
)


# --- views -------------------------------------------------------------------------------


@extend_schema(
    summary="The approval queue",
    description="Proposals waiting for a technician, on tickets of the clients you serve.",
    parameters=[QueueQuerySerializer],
    responses={
        200: ActionSerializer(many=True),
        400: _BAD_REQUEST,
        403: _NOT_SIGNED_IN_OR_DENIED,
    },
)
class ApprovalQueueApi(ListAPIView[Action]):
    serializer_class = ActionSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = selectors.QueueFilters(
            sort=query.validated_data["sort"],
            kind=query.validated_data.get("kind", ""),
            client_id=query.validated_data.get("client"),
        )
        actions = selectors.approval_queue(user=request.user, filters=filters)
        page = self.paginate_queryset(actions)
        # One look-up per catalogue, not per row, for the names in `what`.
        with names_cached():
            data = ActionSerializer(page if page is not None else actions, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class ActionDetailApi(APIView):
    @extend_schema(
        summary="One action",
        responses={200: ActionDetailSerializer, 403: _NOT_SIGNED_IN_OR_DENIED, 404: _NOT_FOUND},
    )
    def get(self, request: Request, action_id: int) -> Response:
        action = selectors.action_get(user=request.user, action_id=action_id)
        return Response(ActionDetailSerializer(action).data)


class ActionApproveApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Approve an action",
        description="Approve a proposal as it is, or with edited `params`. It executes in the "
        "background; the gate checks everything again then.",
        request=ApproveSerializer,
        responses={
            200: ActionDetailSerializer,
            400: _BAD_REQUEST,
            403: _NOT_SIGNED_IN_OR_DENIED,
            404: _NOT_FOUND,
        },
    )
    def post(self, request: Request, action_id: int) -> Response:
        action = selectors.action_get(user=request.user, action_id=action_id)
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.action_approve(
                action=action,
                staff=staff_for_user(request.user),
                params=body.validated_data.get("params"),
            )
        except DjangoValidationError as error:
            raise ValidationError(_params_errors(error)) from error
        action = selectors.action_get(user=request.user, action_id=action_id)
        return Response(ActionDetailSerializer(action).data)


class ActionRejectApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Reject an action",
        request=RejectSerializer,
        responses={
            200: ActionDetailSerializer,
            400: _BAD_REQUEST,
            403: _NOT_SIGNED_IN_OR_DENIED,
            404: _NOT_FOUND,
        },
    )
    def post(self, request: Request, action_id: int) -> Response:
        action = selectors.action_get(user=request.user, action_id=action_id)
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.action_reject(
                action=action,
                staff=staff_for_user(request.user),
                reason=body.validated_data["reason"],
            )
        except DjangoValidationError as error:
            raise ValidationError(_field_errors(error)) from error
        action = selectors.action_get(user=request.user, action_id=action_id)
        return Response(ActionDetailSerializer(action).data)


class IsStaffMember(BasePermission):
    """Signed in with a staff profile: policies are the desk's configuration, not public."""

    message = "Only staff members of the service desk can read agent policies."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return staff_for_user(request.user) is not None


@extend_schema(
    summary="Agent policies",
    responses={200: PolicySerializer(many=True), 403: _NOT_SIGNED_IN_OR_DENIED},
)
class PolicyListApi(ListAPIView[AgentPolicy]):
    serializer_class = PolicySerializer
    permission_classes = [IsAuthenticated, IsStaffMember]

    def get_queryset(self) -> QuerySet[AgentPolicy]:
        return selectors.policy_list()


class PolicyDetailApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsStaffMember]

    @extend_schema(
        summary="One agent policy, with its rules and revisions",
        responses={200: PolicyDetailSerializer, 403: _NOT_SIGNED_IN_OR_DENIED, 404: _NOT_FOUND},
    )
    def get(self, request: Request, policy_id: int) -> Response:
        policy = selectors.policy_get(policy_id=policy_id)
        return Response(PolicyDetailSerializer(policy).data)

    @extend_schema(
        summary="Change an agent policy (managers)",
        description="Sets shadow mode and replaces the rule of each action kind given. A "
        "change bumps the version and records a revision; saving without changes records "
        "nothing.",
        request=PolicyInputSerializer,
        responses={
            200: PolicyDetailSerializer,
            400: _BAD_REQUEST,
            403: _NOT_SIGNED_IN_OR_DENIED,
            404: _NOT_FOUND,
        },
    )
    def put(self, request: Request, policy_id: int) -> Response:
        policy = selectors.policy_get(policy_id=policy_id)
        body = PolicyInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        staff = staff_for_user(request.user)
        if staff is None:  # policy_save takes a staff member; the service checks the role
            raise PermissionDenied("Only service desk managers change agent policy.")
        try:
            services.policy_save(
                policy=policy,
                staff=staff,
                shadow_mode=body.validated_data["shadow_mode"],
                rules=[services.RuleInput(**rule) for rule in body.validated_data["rules"]],
            )
        except DjangoValidationError as error:
            raise ValidationError(_field_errors(error)) from error
        policy = selectors.policy_get(policy_id=policy_id)
        return Response(PolicyDetailSerializer(policy).data)
