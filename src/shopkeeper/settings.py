"""The one strict settings object, read once at the edge and passed down."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopkeeper.errors import ConfigError

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Everything a deployment can tune, each with a default and a help string.

    Read from ``SHOPKEEPER_*`` environment variables (and a ``.env`` file if one
    is present) by the CLI or the app factory only; library code receives it as
    an argument so a test can build one without touching the environment.
    """

    model_config = SettingsConfigDict(
        env_prefix="SHOPKEEPER_",
        env_file=".env",
        extra="forbid",
        frozen=True,
    )

    warehouse: str = Field(
        "duckdb:///./shopkeeper.duckdb",
        description=(
            "Engine URL: duckdb:///path/file.duckdb (embedded, the default), "
            "pyspark://local[*] or pyspark://spark://host:7077 for Spark."
        ),
    )
    spark_warehouse_dir: str = Field(
        "./spark-warehouse",
        description="Where the Spark engine keeps its tables as Parquet folders.",
    )
    spark_shuffle_partitions: int = Field(
        8,
        ge=1,
        description="spark.sql.shuffle.partitions for the session Shopkeeper builds.",
    )
    state_dir: str = Field(
        "./shopkeeper-state",
        description=(
            "Where the server keeps its durable event log (events/), the sources "
            "registry (sources.sqlite) and the loader's checkpoint."
        ),
    )
    admin_token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token for admin endpoints (GET /v1/sources, ...). Unset: "
            "admin endpoints refuse every request. Write keys never work there."
        ),
    )
    collect_fsync: bool = Field(
        True,
        description=(
            "fsync the event log before answering 200 (group commit). Turn off "
            "only for throw-away load tests: a crash may then lose events."
        ),
    )
    collect_max_pending: int = Field(
        100_000,
        ge=1,
        description=(
            "Events a server process may hold waiting for disk before it answers "
            "503 with Retry-After (back-pressure instead of unbounded memory)."
        ),
    )
    collect_segment_mb: int = Field(
        64,
        ge=1,
        description="Size at which a server process starts a new event log segment.",
    )
    loader_interval_seconds: float = Field(
        2.0,
        gt=0,
        description=(
            "How often `shopkeeper serve` moves the event log into the warehouse "
            "events table (micro-batches; a busy warehouse is retried next time)."
        ),
    )
    identity_match_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description=(
            "Splink match probability at or above which two customers records "
            "with no identifier in common are linked (rule probabilistic). "
            "Unset: probabilistic matching is off."
        ),
    )
    recommendations_per_customer: int = Field(
        10,
        ge=1,
        le=500,
        description="How many products the baseline recommender keeps per customer.",
    )
    rfm_bins: int = Field(
        5,
        ge=2,
        le=10,
        description="Quantile bins for the R, F and M scores (5 = quintiles).",
    )
    top_departments: int = Field(
        3,
        ge=1,
        le=20,
        description="How many of a customer's departments the profile keeps, by spend.",
    )
    identity_max_user_ids: int = Field(
        1,
        ge=1,
        description="Most user: ids one customer may hold; links beyond are refused.",
    )
    identity_max_anonymous_ids: int = Field(
        5,
        ge=1,
        description="Most anon: ids one customer may hold; links beyond are refused.",
    )
    identity_max_iterations: int = Field(
        200,
        ge=1,
        description=(
            "Cap on the rounds of the identity graph's label propagation and "
            "limit resolution; the build fails rather than loop for ever."
        ),
    )

    cleanroom_min_crowd: int = Field(
        50,
        ge=2,
        description=(
            "Fewest distinct customers a clean-room answer row may count; smaller "
            "rows are withheld, and a query whose difference from an earlier "
            "answer would isolate fewer is refused."
        ),
    )
    cleanroom_view_min_crowd: dict[str, int] = Field(
        default_factory=dict,
        description=(
            'Per-view minimum crowd as JSON, e.g. {"brand_buyers": 100}; other '
            "views use SHOPKEEPER_CLEANROOM_MIN_CROWD."
        ),
    )
    webhook_endpoints: str | None = Field(
        None,
        description=(
            "TOML or JSON file of webhook endpoints (e-mail, SMS, push providers; "
            "see docs/activate.md). Unset: the server sends no webhooks."
        ),
    )
    webhook_interval_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the server's webhook worker sends due messages.",
    )
    online_store: str = Field(
        "",
        description=(
            "Online store for real-time decisions: sqlite:///PATH or "
            "redis://HOST:PORT/DB. Empty: online.sqlite in the state directory."
        ),
    )
    decide_daily_caps: dict[str, int] = Field(
        {"email": 1, "push": 2, "sms": 1},
        description=(
            "Most decisions per customer, channel and UTC day (JSON object); "
            "a channel not named has no cap."
        ),
    )
    decide_quiet_hours: tuple[int, int] = Field(
        (21, 8),
        description=(
            "Hours [start, end) in which push and SMS are not sent (the customer's "
            "local hour from the request context, else UTC)."
        ),
    )
    decide_exploration: float = Field(
        0.1,
        ge=0,
        le=1,
        description=(
            "Share of decisions that show a uniformly random ordering of the "
            "candidates, so every logged propensity stays positive."
        ),
    )
    decide_require_opt_in: bool = Field(
        False,
        description=(
            "Personalise web, app, kiosk and POS answers only after an explicit "
            "personalization grant (default: unless it was denied or revoked). "
            "E-mail, push, SMS and store staff always need an explicit grant."
        ),
    )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides on top.

    Wraps pydantic's error so a bad variable is reported as a ConfigError
    naming the variable, not a traceback.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"SHOPKEEPER_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}", hint="run `shopkeeper settings`"
        ) from None
