-- Schema created by the reference Tap (github.com/bluesky-social/indigo/cmd/tap
-- @v0.0.0-20260605210604-af2fec94f34c, gorm AutoMigrate) on SQLite.
--
-- Produced with:
--   GOBIN=/tmp/reftap go install github.com/bluesky-social/indigo/cmd/tap@v0.0.0-20260605210604-af2fec94f34c
--   cd "$(mktemp -d)" && TAP_DATABASE_URL=sqlite://./ref.db TAP_BIND=127.0.0.1:0 \
--     TAP_METRICS_LISTEN=127.0.0.1:0 TAP_RELAY_URL=http://127.0.0.1:9 TAP_PLC_URL=http://127.0.0.1:9 \
--     /tmp/reftap/tap run   # stopped with SIGTERM after ~3 s
--   sqlite3 ref.db .schema
-- minus the internal table sqlite_sequence (SQLite creates it for AUTOINCREMENT tables).
-- Used by reference_test.go: applied to a fresh file, then opened with store.Open.
CREATE TABLE `repos` (`did` text,`state` text NOT NULL DEFAULT "pending",`status` text NOT NULL DEFAULT "active",`handle` text,`rev` text,`prev_data` text,`error_msg` text,`retry_count` integer NOT NULL DEFAULT 0,`retry_after` integer NOT NULL DEFAULT 0,PRIMARY KEY (`did`));
CREATE INDEX `idx_repos_state_retry` ON `repos`(`state`,`retry_after`);
CREATE TABLE `repo_records` (`did` text,`collection` text,`rkey` text,`cid` text NOT NULL,PRIMARY KEY (`did`,`collection`,`rkey`));
CREATE TABLE `outbox_buffers` (`id` integer PRIMARY KEY AUTOINCREMENT,`did` text NOT NULL,`live` numeric NOT NULL,`data` text NOT NULL);
CREATE TABLE `resync_buffers` (`id` integer PRIMARY KEY AUTOINCREMENT,`did` text NOT NULL,`data` text NOT NULL);
CREATE INDEX `idx_resync_buffers_did` ON `resync_buffers`(`did`);
CREATE TABLE `firehose_cursors` (`url` text,`cursor` integer NOT NULL,PRIMARY KEY (`url`));
CREATE TABLE `list_repos_cursors` (`url` text,`cursor` text NOT NULL,PRIMARY KEY (`url`));
CREATE TABLE `collection_cursors` (`url` text,`collection` text,`cursor` text NOT NULL,PRIMARY KEY (`url`,`collection`));
