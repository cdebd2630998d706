-- lmm 0.5.0 -> 0.6.0: lmm_model values are stored out of line and
-- uncompressed (STORAGE = external), so that scoring fetches only the level
-- records of a large model instead of decompressing all of it.

\echo Use "ALTER EXTENSION lmm UPDATE TO '0.6.0'" to load this file. \quit

-- This sets the default for columns made from now on.  Columns that exist
-- keep their storage, and values stored compressed stay so (scoring reads
-- them correctly, only slower); to change a column:
--   ALTER TABLE t ALTER COLUMN m SET STORAGE EXTERNAL;
-- after which values written to it are stored uncompressed.
ALTER TYPE lmm_model SET (STORAGE = external);
