-- An event id stands for one event: the digest of its content
-- (notes_intake_digest) is kept with it, so a delivery under the same
-- (source, event id) with other content is refused instead of being taken for
-- a duplicate. Rows from before this migration have '' and acknowledge any
-- later delivery as a duplicate, as they did.
ALTER TABLE notes.intake ADD COLUMN body_hash text NOT NULL DEFAULT '';
