"""Is each product of the request in the exporter's certified scope? The rule behind the scope check.

OID lists an operation's certified products as items (`rest/Items` of its public data service, read by
`activities.oid_public`): a name as the certifier typed it ("Mango", "Coffee beans"), often with varieties
or other items ("dried mango slices"), and a status. Public code shows no HTS code and no category on an
item, so the match is by name: a commodity is in scope when the words of one Certified item's name (or of
one of its varieties) are all among the words of the commodity's product name, or the other way round.
"Mango" covers "Organic dried mango slices"; "Cocoa nibs" covers "Cocoa". Words are compared without case,
accents, plural "s" or the word "organic" (every product here is organic), since certifiers' spellings vary
(USDA's own guide warns of it). A broad item covering a narrower product is the certifier's own practice: the
product list names products, the NOPIC names the product as labeled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from domain.request import CommodityData

CERTIFIED = "Certified"
# Words that say nothing about which product it is.
_NOISE = frozenset({"organic", "certified", "and", "of", "the", "with", "in", "for", "a"})


class CertifiedItem(BaseModel):
    """One product on an operation's certified list in OID."""

    model_config = ConfigDict(frozen=True)

    name: str
    varieties: list[str] = Field(default_factory=list, description="Its varieties and other items in OID.")
    status: str | None = Field(default=None, description="OID's status of the item; none: not given.")

    @property
    def certified(self) -> bool:
        return self.status is None or self.status.strip().casefold() == CERTIFIED.casefold()


def words(text: str) -> frozenset[str]:
    """The product words of a name: lower case, no accents, no plural "s", no noise words."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    found = set()
    for word in re.findall(r"[a-z0-9]+", plain):
        if word in _NOISE:
            continue
        found.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return frozenset(found)


def covers(item: CertifiedItem, product_name: str) -> bool:
    """Whether this Certified item names the product (see the module docstring for why by name)."""
    if not item.certified:
        return False
    product = words(product_name)
    for name in (item.name, *item.varieties):
        listed = words(name)
        if listed and product and (listed <= product or product <= listed):
            return True
    return False


def out_of_scope(commodities: Sequence[CommodityData], items: Sequence[CertifiedItem]) -> list[str]:
    """The product names of the commodities no Certified item covers, in the request's order."""
    return [c.product_name for c in commodities if not any(covers(item, c.product_name) for item in items)]
