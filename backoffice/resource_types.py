"""Resource types as data (the bottom layer: imports nothing of the backoffice but `weight_formats`).

Every list of types in the backoffice (config, records, index, backup, ids, validation)
reads this table. A new type is one row here, one name in `ResourceType`, and (if it
needs words of its own) a word list in the config's `id_parts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from .weight_formats import WEIGHT_FORMATS

ResourceType = Literal["model", "dataset", "notebook", "application"]
"""The resource types the collection holds (the rows of `RESOURCE_KINDS`, as a type)."""


@dataclass(frozen=True)
class ResourceKind:
    """What the backoffice knows about one resource type."""

    name: ResourceType
    has_weights: bool
    """Whether it declares weight formats (and so gets dynamic tests); the others get static checks only."""
    zenodo_upload_type: str
    """Zenodo `upload_type` of its backups (the deposit API has no `model` type: a trained
    network with its code is closest to software)."""
    id_words: ResourceType
    """Whose word list of the config's `id_parts` its memorable ids draw from."""
    nouns: str
    """What the nouns of that list are (for messages and docs)."""


RESOURCE_KINDS: dict[str, ResourceKind] = {
    k.name: k
    for k in (
        ResourceKind("model", True, "software", "model", "animals"),
        ResourceKind("dataset", False, "dataset", "dataset", "food"),
        ResourceKind("notebook", False, "software", "notebook", "clothing and gear"),
        # the running collection's applications draw from the notebooks' list (`assertive-hiking-boot`)
        ResourceKind("application", False, "software", "notebook", "clothing and gear"),
    )
}

RESOURCE_TYPES: tuple[ResourceType, ...] = tuple(k.name for k in RESOURCE_KINDS.values())
"""Every resource type, in the table's order."""

ID_WORD_LISTS: tuple[ResourceType, ...] = tuple(dict.fromkeys(k.id_words for k in RESOURCE_KINDS.values()))
"""The word lists the config's `id_parts` must hold."""

assert set(RESOURCE_TYPES) == set(get_args(ResourceType)), "ResourceType and RESOURCE_KINDS disagree"


def has_weights(rtype: str) -> bool:
    """Whether resources of `rtype` declare weights (an unknown type has none)."""
    kind = RESOURCE_KINDS.get(rtype)
    return kind is not None and kind.has_weights


def dynamic_formats(rtype: str, declared: Iterable[str]) -> list[str]:
    """The weight formats among `declared` that are tested dynamically (in order): none for a
    type without weights, else those bioimageio.core can run."""
    if not has_weights(rtype):
        return []
    return [wf for wf in declared if wf in WEIGHT_FORMATS and WEIGHT_FORMATS[wf].dynamic]


def static_only_formats(rtype: str, declared: Iterable[str]) -> list[str]:
    """The declared weight formats that get static validation only (unknown or not runnable)."""
    if not has_weights(rtype):
        return []
    declared = list(declared)
    dynamic = set(dynamic_formats(rtype, declared))
    return [wf for wf in declared if wf not in dynamic]
