-- Schema created by the reference Tap (github.com/bluesky-social/indigo/cmd/tap
-- @v0.0.0-20260605210604-af2fec94f34c, gorm AutoMigrate) on Postgres 15.
--
-- Produced with:
--   GOBIN=/tmp/reftap go install github.com/bluesky-social/indigo/cmd/tap@v0.0.0-20260605210604-af2fec94f34c
--   psql postgres://postgres@127.0.0.1:5432/postgres -c 'CREATE DATABASE tap_refdump'
--   TAP_DATABASE_URL='postgres://postgres@127.0.0.1:5432/tap_refdump?sslmode=disable' \
--     TAP_BIND=127.0.0.1:0 TAP_METRICS_LISTEN=127.0.0.1:0 TAP_RELAY_URL=http://127.0.0.1:9 \
--     TAP_PLC_URL=http://127.0.0.1:9 /tmp/reftap/tap run   # stopped with SIGTERM after ~3 s
--   pg_dump --schema-only --no-owner --no-privileges \
--     'postgres://postgres@127.0.0.1:5432/tap_refdump?sslmode=disable'
-- minus pg_dump's psql-only \restrict / \unrestrict lines.
-- Used by reference_test.go: applied to a fresh database, then opened with store.Open.
-- Note: it sets search_path to '' for its session; the test applies it on a connection of
-- its own.

--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: collection_cursors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.collection_cursors (
    url text NOT NULL,
    collection text NOT NULL,
    cursor text NOT NULL
);


--
-- Name: firehose_cursors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.firehose_cursors (
    url text NOT NULL,
    cursor bigint NOT NULL
);


--
-- Name: list_repos_cursors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.list_repos_cursors (
    url text NOT NULL,
    cursor text NOT NULL
);


--
-- Name: outbox_buffers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox_buffers (
    id bigint NOT NULL,
    did text NOT NULL,
    live boolean NOT NULL,
    data text NOT NULL
);


--
-- Name: outbox_buffers_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_buffers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_buffers_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_buffers_id_seq OWNED BY public.outbox_buffers.id;


--
-- Name: repo_records; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.repo_records (
    did text NOT NULL,
    collection text NOT NULL,
    rkey text NOT NULL,
    cid text NOT NULL
);


--
-- Name: repos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.repos (
    did text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    handle text,
    rev text,
    prev_data text,
    error_msg text,
    retry_count bigint DEFAULT 0 NOT NULL,
    retry_after bigint DEFAULT 0 NOT NULL
);


--
-- Name: resync_buffers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.resync_buffers (
    id bigint NOT NULL,
    did text NOT NULL,
    data text NOT NULL
);


--
-- Name: resync_buffers_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.resync_buffers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: resync_buffers_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.resync_buffers_id_seq OWNED BY public.resync_buffers.id;


--
-- Name: outbox_buffers id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_buffers ALTER COLUMN id SET DEFAULT nextval('public.outbox_buffers_id_seq'::regclass);


--
-- Name: resync_buffers id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.resync_buffers ALTER COLUMN id SET DEFAULT nextval('public.resync_buffers_id_seq'::regclass);


--
-- Name: collection_cursors collection_cursors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.collection_cursors
    ADD CONSTRAINT collection_cursors_pkey PRIMARY KEY (url, collection);


--
-- Name: firehose_cursors firehose_cursors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.firehose_cursors
    ADD CONSTRAINT firehose_cursors_pkey PRIMARY KEY (url);


--
-- Name: list_repos_cursors list_repos_cursors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.list_repos_cursors
    ADD CONSTRAINT list_repos_cursors_pkey PRIMARY KEY (url);


--
-- Name: outbox_buffers outbox_buffers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_buffers
    ADD CONSTRAINT outbox_buffers_pkey PRIMARY KEY (id);


--
-- Name: repo_records repo_records_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.repo_records
    ADD CONSTRAINT repo_records_pkey PRIMARY KEY (did, collection, rkey);


--
-- Name: repos repos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.repos
    ADD CONSTRAINT repos_pkey PRIMARY KEY (did);


--
-- Name: resync_buffers resync_buffers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.resync_buffers
    ADD CONSTRAINT resync_buffers_pkey PRIMARY KEY (id);


--
-- Name: idx_repos_state_retry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_repos_state_retry ON public.repos USING btree (state, retry_after);


--
-- Name: idx_resync_buffers_did; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_resync_buffers_did ON public.resync_buffers USING btree (did);


--
-- PostgreSQL database dump complete
--


