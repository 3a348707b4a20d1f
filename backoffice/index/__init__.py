"""The published index: collection.json, collection_draft.json, id_map.json, id_map_draft.json."""
