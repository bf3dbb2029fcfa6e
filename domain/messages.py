"""One model per action a person takes on a request (workflow Updates and Signals).

Every action carries an action id, the acting person and the time it was taken; a repeated action id
changes nothing, so a client may safely retry.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from domain.request import DocumentKind, DocumentReference, Kilograms, NopicRequestForm, Text
from domain.state import Actor, ReportedQuantity, ShippedQuantity

ActionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: ActionId = Field(description="Chosen by the client; repeating it changes nothing.")
    actor: Actor
    at: AwareDatetime = Field(description="When the person took the action.")


class Approve(Action):
    """The reviewer approves the request: issuance starts (or retries after it was blocked)."""

    note: Text | None = None


class RequestCorrections(Action):
    items: list[Text] = Field(min_length=1, description="What must be corrected or added.")
    message: Text


class Refuse(Action):
    reason: Text


class Withdraw(Action):
    reason: Text | None = None


class SubmitDocuments(Action):
    documents: list[DocumentReference] = Field(min_length=1)


class CorrectRequestData(Action):
    """Corrected request data. The time of receipt stays the original; documents are added to those held."""

    form: NopicRequestForm


class RecordCertificateNumber(Action):
    """Manual issuance: staff created the NOPIC in OID by hand and record its number."""

    commodity_index: int = Field(ge=0)
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class SubmitTransportDocument(Action):
    """The definitive transport document of the first shipment, with the day it shipped and the net kg of
    each commodity; or, with `shipment`, a compliant one for that further shipment's rejected document.

    Before the NOPICs are issued it is kept, and accepted as the first shipment's once they are."""

    document: DocumentReference
    shipped_on: date | None = Field(default=None, description="The day the first shipment left.")
    quantities: list[ShippedQuantity] = Field(
        default_factory=list, description="Net kg of each commodity in the first shipment."
    )
    shipment: int | None = Field(
        default=None,
        ge=0,
        description="A further shipment (its index in `shipments`) it replaces a document of.",
    )

    @field_validator("document")
    @classmethod
    def _definitive(cls, value: DocumentReference) -> DocumentReference:
        if value.kind is not DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE:
            raise ValueError("the document must be of kind transport_document_definitive")
        return value


class RejectTransportDocument(Action):
    """Not compliant: the first shipment's transport document, or a further shipment's with `shipment`."""

    reason: Text
    shipment: int | None = Field(
        default=None, ge=0, description="A further shipment (index in `shipments`); none: the first one's."
    )


class UpdateEta(Action):
    """A new ETA (and expected clearance, and ETD): the customs deadline moves with them. An exporter moves
    it up to the policy's allowance past the timeframe's last day; a move further waits for a reviewer."""

    eta: AwareDatetime
    expected_clearance: AwareDatetime | None = Field(
        default=None, description="A new expected clearance; none given keeps the one before."
    )
    etd: date | None = Field(default=None, description="A new ETD within the timeframe, before issue.")
    clear_expected_clearance: bool = Field(
        default=False, description="Drop the expected clearance: the customs deadline becomes the ETA."
    )


class RecordShipment(Action):
    """A further shipment under the issued NOPICs, while the request is active."""

    shipped_on: date
    quantities: list[ShippedQuantity] = Field(min_length=1)
    transport_document: DocumentReference
    eta: AwareDatetime | None = Field(default=None, description="Its arrival at the US port.")
    expected_clearance: AwareDatetime | None = Field(
        default=None, description="Its expected customs clearance: the request does not expire before it."
    )


class CancelCertificates(Action):
    """The reviewer cancels one certificate or all of them, with a reason."""

    commodity_indexes: list[int] | None = Field(
        default=None, description="The certificates to cancel, by commodity index; none given means all."
    )
    reason: Text


class ConfirmOperations(Action):
    """A reviewer looked both operations up in OID (its public search) and found both Certified."""

    note: Text = Field(description="What the reviewer saw, e.g. the status dates shown in OID.")


class ReturnToReview(Action):
    """Issuance stops and the request goes back to review; NOPICs already issued stay issued."""

    reason: Text


class ResolveCorrections(Action):
    """The reviewer closes the open corrections (answered by email, for instance): approval may follow."""

    note: Text


class AcceptDeadlineMove(Action):
    """The reviewer accepts the exporter's move of the customs deadline past the allowance."""

    note: Text | None = None


class DeclineDeadlineMove(Action):
    """The reviewer declines the exporter's move of the customs deadline; the deadline stays."""

    reason: Text


class RecordCancellation(Action):
    """Staff cancelled the NOPIC in OID by hand (Global INTEGRITY) and confirm it here."""

    commodity_index: int = Field(ge=0)
    note: Text = Field(description="How it was cancelled, e.g. who did it in OID.")
    number: str | None = Field(
        default=None, description="Only when two NOPICs of the commodity await cancellation: which one."
    )


class RetryCancellation(Action):
    """Api mode: ask the OID gateway again to cancel a NOPIC it refused to cancel."""

    commodity_index: int = Field(ge=0)
    number: str | None = Field(
        default=None, description="Only when two NOPICs of the commodity await cancellation: which one."
    )


class ReportQuantities(Action):
    """The net kg actually shipped per commodity over the timeframe, as asked before the NOPICs expire."""

    quantities: list[ReportedQuantity] = Field(min_length=1)


class ReplaceCertificate(Action):
    """After issue a NOPIC is not edited but replaced (as TRACES NT's "copy as replacement"): a new NOPIC
    with the changed data is issued for the commodity and the old one is cancelled in OID."""

    commodity_index: int = Field(ge=0, description="The commodity whose issued NOPIC is replaced.")
    reason: Text = Field(description="Why its data must change, for the exporter and the importer.")
    product_name: Text | None = Field(default=None, description="The product name as labeled; none: kept.")
    net_kg: Kilograms | None = Field(default=None, description="Net kg for the whole timeframe; none: kept.")
    lot_numbers: list[Text] | None = Field(default=None, description="The lot numbers; none: kept.")
