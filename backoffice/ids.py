"""Memorable concept ids: `adjective-noun`, with nouns per resource type
(models: animals, datasets: food, notebooks: clothing)."""

from __future__ import annotations

import random
from collections.abc import Callable

from .config.collection_config import RESOURCE_TYPES, CollectionConfig, ResourceType
from .errors import ConflictError, InvalidIdError


def split_id(config: CollectionConfig, concept_id: str) -> tuple[ResourceType, str, str] | None:
    """(type, adjective, noun) if `concept_id` is a memorable id of some type, else None."""
    for rtype in RESOURCE_TYPES:
        parts = config.id_parts[rtype]
        for noun in parts.nouns:
            if concept_id.endswith("-" + noun):
                adjective = concept_id[: -len(noun) - 1]
                if adjective in parts.adjectives:
                    return rtype, adjective, noun
    return None


def check_id(config: CollectionConfig, concept_id: str, rtype: ResourceType) -> None:
    """Raise InvalidIdError unless `concept_id` is a memorable id of type `rtype`."""
    found = split_id(config, concept_id)
    if found is None:
        raise InvalidIdError(f"'{concept_id}' is not a memorable bioimage.io id (adjective-noun from the config's word lists)")
    if found[0] != rtype:
        raise InvalidIdError(f"'{concept_id}' is a {found[0]} id, but the resource is a {rtype}")


def emoji_of(config: CollectionConfig, concept_id: str) -> str | None:
    found = split_id(config, concept_id)
    return None if found is None else config.id_parts[found[0]].nouns[found[2]]


def random_id(
    config: CollectionConfig, rtype: ResourceType, taken: Callable[[str], bool], rng: random.Random | None = None
) -> str:
    """A random id of `rtype` for which `taken` is False."""
    rng = rng or random.SystemRandom()
    parts = config.id_parts[rtype]
    nouns = list(parts.nouns)
    total = len(parts.adjectives) * len(nouns)
    for _ in range(min(200, total)):
        candidate = f"{rng.choice(parts.adjectives)}-{rng.choice(nouns)}"
        if not taken(candidate):
            return candidate
    for adjective in parts.adjectives:  # nearly full: search exhaustively
        for noun in nouns:
            if not taken(f"{adjective}-{noun}"):
                return f"{adjective}-{noun}"
    raise ConflictError(f"every {rtype} id is taken")
