"""Memorable concept ids: `adjective-noun`, from the config's word list of each resource type
(models: animals, datasets: food, notebooks and applications: clothing and gear; see
`resource_types.py` for which type draws from which list)."""

from __future__ import annotations

import random
from collections.abc import Callable

from .config.collection_config import CollectionConfig, IdParts
from .errors import ConflictError, InvalidIdError
from .resource_types import ID_WORD_LISTS, RESOURCE_KINDS, ResourceType


def _split(parts: IdParts, concept_id: str) -> tuple[str, str] | None:
    for noun in parts.nouns:
        if concept_id.endswith("-" + noun):
            adjective = concept_id[: -len(noun) - 1]
            if adjective in parts.adjectives:
                return adjective, noun
    return None


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def split_id(config: CollectionConfig, concept_id: str) -> tuple[ResourceType, str, str] | None:
    """(word list, adjective, noun) if `concept_id` is a memorable id of some word list, else None.
    The word list is named by the type owning it (an application id is found under `notebook`)."""
    for words in ID_WORD_LISTS:
        found = _split(config.id_parts[words], concept_id)
        if found is not None:
            return words, *found
    return None


def check_id(config: CollectionConfig, concept_id: str, rtype: ResourceType) -> None:
    """Raise InvalidIdError unless `concept_id` is a memorable id of type `rtype`."""
    kind = RESOURCE_KINDS[rtype]
    if _split(config.id_parts[kind.id_words], concept_id) is not None:
        return
    found = split_id(config, concept_id)
    if found is None:
        raise InvalidIdError(f"'{concept_id}' is not a memorable bioimage.io id (adjective-noun from the config's word lists)")
    users = " or ".join(k.name for k in RESOURCE_KINDS.values() if k.id_words == found[0])
    raise InvalidIdError(
        f"'{concept_id}' is {_a(users)} id, but the resource is {_a(rtype)} (its ids end in one of the {kind.nouns})"
    )


def emoji_of(config: CollectionConfig, concept_id: str) -> str | None:
    found = split_id(config, concept_id)
    return None if found is None else config.id_parts[found[0]].nouns[found[2]]


def concept_emoji(config: CollectionConfig, concept_id: str, published_emoji: str | None) -> str | None:
    """The emoji shown with a concept: an imported rdf's own `id_emoji` (`published_emoji`, kept as
    published), else the one of its id's noun in our word lists."""
    return published_emoji or emoji_of(config, concept_id)


def random_id(
    config: CollectionConfig, rtype: ResourceType, taken: Callable[[str], bool], rng: random.Random | None = None
) -> str:
    """A random id of `rtype` for which `taken` is False."""
    rng = rng or random.SystemRandom()
    parts = config.id_parts[RESOURCE_KINDS[rtype].id_words]
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
