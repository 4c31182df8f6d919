-- migrate:no-transaction
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)
-- migrate:statement-timeout 30min
-- The seed's idx_account_type, built CONCURRENTLY: on a large legacy accounts
-- table a plain CREATE INDEX would block every write for the whole build.
-- CONCURRENTLY cannot run in a transaction, so this file runs statement by
-- statement. A failed concurrent build leaves an INVALID index behind: the
-- runner drops and rebuilds it; with psql, the guard below says what to do.
-- Ends with the seed's summary lines.

DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relname = 'idx_account_type' AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid
  ) THEN
    RAISE EXCEPTION 'idx_account_type exists but is INVALID (an earlier concurrent build failed): run DROP INDEX CONCURRENTLY idx_account_type; then run this file again';
  END IF;
END
$$;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_account_type ON accounts (account_type);

DO $$
DECLARE
  column_count INTEGER;
BEGIN
  SELECT count(*) INTO column_count FROM information_schema.columns
  WHERE table_schema = current_schema() AND table_name = 'accounts'
    AND column_name IN ('account_type', 'securities_config', 'access_token', 'token_expires_at');
  RAISE NOTICE '📊 accounts 테이블 추가 컬럼: %개', column_count;
  IF to_regclass('securities_tokens') IS NOT NULL THEN
    RAISE NOTICE '📊 securities_tokens 테이블: 존재함';
  ELSE
    RAISE EXCEPTION 'securities_tokens table is missing: run 0002_add_securities_support.sql first';
  END IF;
  IF column_count <> 4 THEN
    RAISE EXCEPTION 'accounts has % of the 4 securities columns: run 0002_add_securities_support.sql first', column_count;
  END IF;
  RAISE NOTICE '✅ 증권 거래소 지원 마이그레이션 완료';
END
$$;
