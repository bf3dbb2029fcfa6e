"""Which products an operation's certified items in OID cover: by name, words compared loosely."""

from __future__ import annotations

from domain.scope import CertifiedItem, covers, words

MANGO = CertifiedItem(name="Mango", varieties=["dried mango slices"], status="Certified")


def test_a_broad_item_covers_the_product_as_labeled() -> None:
    assert covers(MANGO, "Organic dried mango slices")
    assert covers(CertifiedItem(name="Cocoa nibs"), "Cocoa")


def test_case_accents_plurals_and_the_word_organic_do_not_matter() -> None:
    assert words("Organic Café beans") == words("cafe BEAN")
    assert covers(CertifiedItem(name="Coffee beans", status="certified"), "Organic roasted coffee bean")


def test_another_product_or_an_item_not_certified_does_not_cover() -> None:
    assert not covers(MANGO, "Organic cocoa nibs")
    assert not covers(MANGO.model_copy(update={"status": "Suspended"}), "Dried mango slices")
    assert not covers(CertifiedItem(name="Organic"), "Organic cocoa nibs"), "a noise word names nothing"
