"""Append-only, named schema migrations: the one history of ``bench.db``'s shape.

Each step brings a database from ``user_version`` N to N + 1 and is never edited once it has
shipped; a feature that needs a table or a column appends a step of its own (``m002_...``).
A database records how many steps it has taken in ``PRAGMA user_version``; ``CoreStore.migrate``
applies the missing ones, each in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One upgrade step: a name that says what it adds, and the SQL that adds it."""

    name: str
    sql: str


# The first release's schema, frozen as it shipped (batches, runs, evaluations, attempts,
# judgments, registry; pairwise verdicts; routing weights and the report rollup; snapshots).
M001_INITIAL = """
        CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'planned',
            mode TEXT NOT NULL DEFAULT 'zero-shot',
            models TEXT NOT NULL DEFAULT '[]',
            scenarios TEXT NOT NULL DEFAULT '[]',
            total_cells INTEGER NOT NULL DEFAULT 0,
            spec TEXT NOT NULL DEFAULT '{}',
            notes TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX idx_batches_created ON batches(created_at DESC);

        CREATE TABLE scenario_versions (
            scenario_hash TEXT PRIMARY KEY,
            scenario_id TEXT NOT NULL,
            suite TEXT,
            category TEXT,
            rubric TEXT,
            definition TEXT NOT NULL,
            first_seen TEXT NOT NULL
        );
        CREATE INDEX idx_scenario_versions_id ON scenario_versions(scenario_id);

        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES batches(batch_id),
            model TEXT NOT NULL,
            backend TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            scenario_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            specialist TEXT NOT NULL DEFAULT '',
            iteration INTEGER NOT NULL DEFAULT 1,
            mode TEXT NOT NULL DEFAULT 'zero-shot',
            category TEXT,
            status TEXT NOT NULL,
            output TEXT NOT NULL DEFAULT '',
            error TEXT,
            prompt TEXT NOT NULL DEFAULT '',
            system TEXT,
            scenario_hash TEXT REFERENCES scenario_versions(scenario_hash),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            ttft_ms REAL,
            total_ms REAL,
            load_ms REAL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            tokens_per_s REAL,
            prompt_eval_ms REAL,
            eval_ms REAL,
            paid_load INTEGER,
            host TEXT,
            cost REAL,
            done_reason TEXT,
            options TEXT NOT NULL DEFAULT '{}',
            auto_score REAL,
            success INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            retries INTEGER NOT NULL DEFAULT 0,
            first_success INTEGER
        );
        CREATE UNIQUE INDEX idx_runs_cell ON runs(
            batch_id, model, prompt_version, scenario_id, tier, specialist, iteration);
        CREATE INDEX idx_runs_batch_status ON runs(batch_id, status);
        CREATE INDEX idx_runs_model_finished ON runs(model, finished_at);
        CREATE INDEX idx_runs_scenario ON runs(scenario_id);
        CREATE INDEX idx_runs_finished ON runs(finished_at DESC);

        CREATE TABLE evaluations (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            evaluator TEXT NOT NULL,
            score REAL NOT NULL,
            weight REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, evaluator)
        );

        CREATE TABLE attempts (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            output TEXT NOT NULL,
            auto_score REAL,
            success INTEGER,
            feedback TEXT,
            telemetry TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, attempt)
        );

        CREATE TABLE judgments (
            judgment_id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            judge TEXT NOT NULL,
            judge_kind TEXT NOT NULL DEFAULT 'person',
            rubric_id TEXT NOT NULL,
            rubric_version INTEGER NOT NULL DEFAULT 1,
            scores TEXT NOT NULL,
            total INTEGER NOT NULL,
            percent REAL NOT NULL,
            band TEXT NOT NULL,
            notes TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            blind INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_judgments_run ON judgments(run_id);
        CREATE INDEX idx_judgments_judge ON judgments(judge, created_at);

        CREATE TABLE registry (
            model TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            name TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'candidate',
            tier TEXT,
            notes TEXT NOT NULL DEFAULT '',
            reachable INTEGER,
            details TEXT NOT NULL DEFAULT '{}',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );

        CREATE INDEX idx_runs_status_started ON runs(status, started_at, run_id);
        CREATE INDEX idx_judgments_run_judge ON judgments(run_id, judge, judge_kind);
        CREATE INDEX idx_judgments_rubric ON judgments(rubric_id, run_id);

        CREATE TABLE pairwise (
            verdict_id INTEGER PRIMARY KEY AUTOINCREMENT,
            left_run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            right_run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            left_model TEXT NOT NULL,
            right_model TEXT NOT NULL,
            left_batch_id TEXT NOT NULL,
            right_batch_id TEXT NOT NULL,
            scenario_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('left', 'right', 'tie', 'both_bad')),
            judge TEXT NOT NULL,
            blind INTEGER NOT NULL DEFAULT 1,
            notes TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_pairwise_left ON pairwise(left_run_id);
        CREATE INDEX idx_pairwise_right ON pairwise(right_run_id);
        CREATE INDEX idx_pairwise_judge ON pairwise(judge, verdict_id);

        CREATE TABLE IF NOT EXISTS routing_weights (
            category TEXT NOT NULL,
            model TEXT NOT NULL,
            weight REAL NOT NULL,
            runs INTEGER NOT NULL DEFAULT 0,
            source_batch TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (category, model)
        );

        CREATE TABLE IF NOT EXISTS routing_weight_history (
            change_id INTEGER PRIMARY KEY AUTOINCREMENT,
            category TEXT NOT NULL,
            model TEXT NOT NULL,
            old_weight REAL,
            new_weight REAL NOT NULL,
            mean_score REAL NOT NULL,
            runs INTEGER NOT NULL,
            learning_rate REAL NOT NULL,
            source_batch TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_weight_history_model
            ON routing_weight_history(category, model, change_id);

        -- The report rollup: per batch, the finished runs' sums and counts by category,
        -- model and prompt version (a few dozen rows per batch, whatever its size). The batch
        -- browser's figures, rankings, score over time, weights and effort read these instead
        -- of every run, so they scale with batches, not runs. Triggers on runs mark a batch stale; the next report
        -- recomputes just the stale batches (see ReportQueries.refresh_rollup).
        CREATE TABLE IF NOT EXISTS report_rollup (
            batch_id TEXT NOT NULL,
            category TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            runs INTEGER NOT NULL,          -- finished runs (status ok); the figures below
            failed INTEGER NOT NULL,        -- runs that errored or were cancelled
            scored INTEGER NOT NULL,
            score_sum REAL,
            score_sq REAL,
            decided INTEGER NOT NULL,
            passed INTEGER,
            ttft_n INTEGER NOT NULL,
            ttft_sum REAL,
            tps_n INTEGER NOT NULL,
            tps_sum REAL,
            cost_n INTEGER NOT NULL,
            cost_sum REAL,
            iterative_runs INTEGER NOT NULL,
            iterative_attempts INTEGER,
            first_answer INTEGER,
            judged INTEGER NOT NULL,
            judged_sum REAL,
            judged_sq REAL,
            PRIMARY KEY (batch_id, category, model, prompt_version)
        );
        CREATE TABLE IF NOT EXISTS report_rollup_fresh (batch_id TEXT PRIMARY KEY);
        CREATE TRIGGER IF NOT EXISTS trg_runs_rollup_insert AFTER INSERT ON runs BEGIN
            DELETE FROM report_rollup_fresh WHERE batch_id = NEW.batch_id;
        END;
        CREATE TRIGGER IF NOT EXISTS trg_runs_rollup_delete AFTER DELETE ON runs BEGIN
            DELETE FROM report_rollup_fresh WHERE batch_id = OLD.batch_id;
        END;
        CREATE TRIGGER IF NOT EXISTS trg_runs_rollup_update AFTER UPDATE ON runs BEGIN
            DELETE FROM report_rollup_fresh WHERE batch_id IN (OLD.batch_id, NEW.batch_id);
        END;
        CREATE TRIGGER IF NOT EXISTS trg_judgments_rollup_insert AFTER INSERT ON judgments
        BEGIN
            DELETE FROM report_rollup_fresh
            WHERE batch_id = (SELECT batch_id FROM runs WHERE run_id = NEW.run_id);
        END;
        CREATE TRIGGER IF NOT EXISTS trg_judgments_rollup_delete AFTER DELETE ON judgments
        BEGIN
            DELETE FROM report_rollup_fresh
            WHERE batch_id = (SELECT batch_id FROM runs WHERE run_id = OLD.run_id);
        END;
        CREATE TRIGGER IF NOT EXISTS trg_judgments_rollup_update AFTER UPDATE ON judgments
        BEGIN
            DELETE FROM report_rollup_fresh WHERE batch_id IN (
                SELECT batch_id FROM runs WHERE run_id IN (OLD.run_id, NEW.run_id));
        END;

        -- Indexes shaped by measurement (benchmarks/db_scale.py, 100,000 runs): each query
        -- below reads one index in order and never touches the run rows (outputs, prompts).
        -- Difficulty (grouped by category, model, scenario) and the favoured model's runs
        -- for surprises (category, model).
        CREATE INDEX IF NOT EXISTS idx_runs_category_model
            ON runs(status, category, model, scenario_id, prompt_version, success, auto_score);
        -- A cell's peers (same batch and cell, any model): surprises, specialist twins, and the
        -- browser's per-page figures (a batch's runs with status, score and success).
        CREATE INDEX IF NOT EXISTS idx_runs_peers
            ON runs(batch_id, scenario_id, tier, prompt_version, specialist, iteration, model,
                    status, auto_score, success);
        -- Only the specialist-enabled runs, to pair them with their baselines.
        CREATE INDEX IF NOT EXISTS idx_runs_specialist
            ON runs(batch_id, model, prompt_version, scenario_id, tier, iteration, specialist,
                    status, category, auto_score, success) WHERE specialist != '';

        CREATE TABLE snapshots (
            snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
            template TEXT NOT NULL,
            template_key TEXT NOT NULL,
            version TEXT NOT NULL,
            number INTEGER NOT NULL,
            batch_id TEXT NOT NULL REFERENCES batches(batch_id),
            path TEXT NOT NULL,
            template_kind TEXT NOT NULL DEFAULT 'file',
            baseline_runs INTEGER NOT NULL DEFAULT 0,
            specialist_runs INTEGER NOT NULL DEFAULT 0,
            baseline_mean REAL,
            specialist_mean REAL,
            improvement REAL,
            improvement_percent REAL,
            minted_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            comparison TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX idx_snapshots_template ON snapshots(template_key, created_at DESC);
        CREATE INDEX idx_snapshots_batch ON snapshots(batch_id);
"""

# Warmup controls: what each agent scenario's untouched fixture did, per batch.
M002_SCENARIO_CONTROLS = """
        CREATE TABLE scenario_controls (
            batch_id TEXT NOT NULL,  -- no foreign key: a control may be taken before the batch row
            scenario_id TEXT NOT NULL,
            scenario_hash TEXT,
            ok INTEGER NOT NULL,
            reason TEXT,
            commands TEXT NOT NULL DEFAULT '[]',
            duration_s REAL,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (batch_id, scenario_id)
        );
"""

# One batch, one runner: the runner holding a batch and when it last said it is alive.
M003_BATCH_LEASES = """
        CREATE TABLE batch_leases (
            batch_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            acquired_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        );
"""

# Which MLflow run holds each tui-bench run, per tracking server and experiment: what makes
# `tui-bench mlflow sync` idempotent and lets later judgments reach the same MLflow run.
M004_MLFLOW_RUNS = """
        CREATE TABLE mlflow_runs (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            tracking_uri TEXT NOT NULL,
            experiment TEXT NOT NULL,
            experiment_id TEXT NOT NULL,
            mlflow_run_id TEXT NOT NULL,
            judge_pending INTEGER NOT NULL DEFAULT 1,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (run_id, tracking_uri, experiment)
        );
        CREATE INDEX idx_mlflow_runs_run ON mlflow_runs(run_id);
"""

# A run whose answer reached for the machinery scoring it (scoring/suspect.py) is stored with
# success 0 and its held-back verdict, until a person clears it.
M005_SUSPECT_RUNS = """
        ALTER TABLE runs ADD COLUMN suspect TEXT;
        ALTER TABLE runs ADD COLUMN suspect_success INTEGER;
        ALTER TABLE runs ADD COLUMN suspect_cleared_at TEXT;
        CREATE INDEX idx_runs_suspect ON runs(batch_id) WHERE suspect IS NOT NULL;
"""

# Re-scoring: a batch's runs may be scored again without generating again. Each scoring of a
# batch has a number (1 is the scoring done as the batch ran); every scoring's evaluations are
# kept (evaluations gain ``scoring`` in their key), ``run_scores`` keeps each scoring's figures
# of a run, and ``runs.auto_score``/``success`` stay the figures of the run's latest scoring
# (``runs.scoring``), so reports and the rollup read the latest without a join.
M006_SCORINGS = """
        CREATE TABLE scorings (
            batch_id TEXT NOT NULL REFERENCES batches(batch_id),
            number INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'rescore',
            evaluators TEXT NOT NULL DEFAULT '[]',
            rubric TEXT,
            judge TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            created_at TEXT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (batch_id, number)
        );
        CREATE TABLE run_scores (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            scoring INTEGER NOT NULL,
            auto_score REAL,
            success INTEGER,
            scenario_hash TEXT,
            scored_at TEXT NOT NULL,
            PRIMARY KEY (run_id, scoring)
        );
        ALTER TABLE runs ADD COLUMN scoring INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE evaluations_scored (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            evaluator TEXT NOT NULL,
            score REAL NOT NULL,
            weight REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            scoring INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, scoring, evaluator)
        );
        INSERT INTO evaluations_scored (run_id, evaluator, score, weight, detail, scoring)
            SELECT run_id, evaluator, score, weight, detail, 1 FROM evaluations;
        DROP TABLE evaluations;
        ALTER TABLE evaluations_scored RENAME TO evaluations;
"""

# The response cache: a run that reused a stored generation instead of calling the model is
# ``cached`` (with the run it came from); ``cache_key`` identifies a generation (model and its
# digest, messages, options, seed, iteration) so later batches can find it.
M007_RESPONSE_CACHE = """
        ALTER TABLE runs ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN cached_from TEXT;
        ALTER TABLE runs ADD COLUMN cache_key TEXT;
        CREATE INDEX idx_runs_cache_key ON runs(cache_key, status, cached, finished_at)
            WHERE cache_key IS NOT NULL;
"""

# Agent cells: their telemetry (a row per agent run) and the run's artifacts (transcript, diff).
M008_AGENT_RUNS = """
        CREATE TABLE agent_runs (
            run_id TEXT PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
            turns INTEGER NOT NULL DEFAULT 0,
            tool_calls TEXT NOT NULL DEFAULT '{}',
            malformed_calls INTEGER NOT NULL DEFAULT 0,
            refused_calls INTEGER NOT NULL DEFAULT 0,
            files_changed INTEGER NOT NULL DEFAULT 0,
            lines_added INTEGER NOT NULL DEFAULT 0,
            lines_removed INTEGER NOT NULL DEFAULT 0,
            end_reason TEXT
        );
        CREATE TABLE run_artifacts (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            content TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        );
"""

# Effort calibration: refine rounds keep the action and self-score on each attempt; a row per
# refine run holds its effort; calibrations name their threshold batches; effort_settings is the
# registry of calibrated thresholds per model and level.
M009_EFFORT = """
        ALTER TABLE attempts ADD COLUMN action TEXT;
        ALTER TABLE attempts ADD COLUMN self_score INTEGER;
        CREATE TABLE refine_runs (
            run_id TEXT PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
            threshold REAL NOT NULL,
            max_new_answers INTEGER NOT NULL,
            new_answer_count INTEGER NOT NULL,
            effort_ratio REAL NOT NULL,
            collapsed INTEGER NOT NULL,
            first_score REAL,
            final_score REAL,
            malformed INTEGER NOT NULL DEFAULT 0,
            end_reason TEXT,
            effort TEXT
        );
        CREATE TABLE calibrations (
            calibration_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            spec TEXT NOT NULL,
            batch_ids TEXT NOT NULL DEFAULT '[]',
            result TEXT
        );
        CREATE TABLE effort_settings (
            model TEXT NOT NULL,
            level TEXT NOT NULL,
            threshold REAL NOT NULL,
            target_ratio REAL NOT NULL,
            measured_ratio REAL,
            one_answer_rate REAL,
            quality REAL,
            trials INTEGER NOT NULL,
            calibration_id TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'verified')),
            verified_batch TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (model, level)
        );
"""

# Settings as grid axes: a run's cell key gains its swept options (``options_key``, '' for runs
# made before), so one batch may hold the same cell at two temperatures and resume tells them
# apart. Each run records what it really ran with (``environment``) and whether prompt plus
# answer filled the context (``truncated``); each batch the machine it ran on and its warmups.
M010_SETTINGS_AXES = """
        ALTER TABLE runs ADD COLUMN options_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE runs ADD COLUMN environment TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE runs ADD COLUMN truncated INTEGER;
        DROP INDEX idx_runs_cell;
        CREATE UNIQUE INDEX idx_runs_cell ON runs(
            batch_id, model, prompt_version, scenario_id, tier, specialist, iteration,
            options_key);
        CREATE TABLE batch_environment (
            batch_id TEXT PRIMARY KEY REFERENCES batches(batch_id) ON DELETE CASCADE,
            recorded_at TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            host TEXT NOT NULL DEFAULT '{}',     -- CPU, cores, memory, GPU, OS, Python
            warmups TEXT NOT NULL DEFAULT '{}'   -- per model and load settings: warmup ms
        );
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_initial", M001_INITIAL),
    Migration("m002_scenario_controls", M002_SCENARIO_CONTROLS),
    Migration("m003_batch_leases", M003_BATCH_LEASES),
    Migration("m004_mlflow_runs", M004_MLFLOW_RUNS),
    Migration("m005_suspect_runs", M005_SUSPECT_RUNS),
    Migration("m006_scorings", M006_SCORINGS),
    Migration("m007_response_cache", M007_RESPONSE_CACHE),
    Migration("m008_agent_runs", M008_AGENT_RUNS),
    Migration("m009_effort", M009_EFFORT),
    Migration("m010_settings_axes", M010_SETTINGS_AXES),
)


def migrations() -> list[str]:
    """The SQL of every step, in order: step i brings user_version i to i + 1."""
    return [step.sql for step in MIGRATIONS]


def migration_names() -> list[str]:
    return [step.name for step in MIGRATIONS]
