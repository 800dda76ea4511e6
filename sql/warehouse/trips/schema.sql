-- The trips warehouse (dags/trips_ingest.ts): bronze (raw rows as they came, with where
-- and when they came from), silver (typed, cleaned, one row per distinct trip), gold
-- (weekly trips per region; similar-trip groups on a grid). Idempotent. Parameters: none.
CREATE SCHEMA IF NOT EXISTS trips;

-- One batch per run (a file): bronze and silver rows carry its small id, not the run id.
CREATE TABLE IF NOT EXISTS trips.batches (
  batch_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id       text NOT NULL UNIQUE,
  source_file  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every field as text, exactly as read; rows with every field empty are not kept.
CREATE TABLE IF NOT EXISTS trips.bronze (
  source_file        text NOT NULL,
  row_number         bigint NOT NULL,           -- the data row's number in its file (1: the first after the header)
  region             text,
  origin_coord       text,
  destination_coord  text,
  datetime           text,
  datasource         text,
  inserted_on        timestamptz NOT NULL DEFAULT now(),  -- the loading transaction's start
  batch_id           integer NOT NULL               -- trips.batches: the run that loaded it
);
CREATE INDEX IF NOT EXISTS bronze_batch ON trips.bronze (batch_id);

-- Rows that could not be read: a wrong number of fields, a point that is not WKT, a bad time.
CREATE TABLE IF NOT EXISTS trips.bronze_rejects (
  source_file  text NOT NULL,
  line         bigint NOT NULL,
  reason       text NOT NULL,
  raw          text NOT NULL,
  inserted_on  timestamptz NOT NULL,
  run_id       text NOT NULL
);
CREATE INDEX IF NOT EXISTS bronze_rejects_run ON trips.bronze_rejects (run_id);

-- One row per distinct trip: the same region, points, time and datasource is the same trip.
CREATE TABLE IF NOT EXISTS trips.silver (
  trip_id          uuid PRIMARY KEY,            -- md5 of the cleaned fields
  region           text NOT NULL,
  origin_lon       double precision NOT NULL,
  origin_lat       double precision NOT NULL,
  destination_lon  double precision NOT NULL,
  destination_lat  double precision NOT NULL,
  datetime         timestamp NOT NULL,
  datasource       text NOT NULL,
  source_file      text NOT NULL,
  row_number       bigint NOT NULL,
  batch_id         integer NOT NULL,            -- the batch that first loaded the trip
  loaded_at        timestamptz NOT NULL DEFAULT now()
);
-- What gold reads of a new batch. (No index on datetime: each costs every load, and the
-- weekly figures come from gold; see the README on 100 M rows.)
CREATE INDEX IF NOT EXISTS silver_batch ON trips.silver (batch_id);

-- Trips per region and ISO week (year is the ISO year).
CREATE TABLE IF NOT EXISTS trips.gold_weekly (
  region      text NOT NULL,
  year        integer NOT NULL,
  week        integer NOT NULL,
  week_start  date NOT NULL,
  trips       bigint NOT NULL,
  PRIMARY KEY (region, year, week)
);

-- Similar trips: origin and destination in the same 0.01° cell (about 1.1 km north-south,
-- 0.7-0.8 km east-west at these latitudes; cell = floor(degrees * 100)) and the same hour.
CREATE TABLE IF NOT EXISTS trips.gold_similar (
  region                text NOT NULL,
  origin_cell_lon       integer NOT NULL,
  origin_cell_lat       integer NOT NULL,
  destination_cell_lon  integer NOT NULL,
  destination_cell_lat  integer NOT NULL,
  hour                  integer NOT NULL,
  trips                 bigint NOT NULL,
  first_seen            timestamp NOT NULL,
  last_seen             timestamp NOT NULL,
  PRIMARY KEY (region, origin_cell_lon, origin_cell_lat, destination_cell_lon, destination_cell_lat, hour)
);

-- The silver batches gold has added: each is added once, whatever retries or clears do.
CREATE TABLE IF NOT EXISTS trips.gold_batches (
  batch_id    integer PRIMARY KEY,
  trips       bigint NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
