"""5. dashboard: `GET /requests` over `dashboard_rows` read-model rows, each query beside its SQL twin.

The rows are bulk-loaded (COPY), then `VACUUM ANALYZE`d as autovacuum would leave tables of that size: the
planner has its statistics and index-only counts find their pages all-visible. Every query is sent two ways,
in pairs interleaved A B B A ...: through the API (HTTP, token, FastAPI, the route, `list_requests`) and as
the very statement `list_requests` sends (`list_statement`), straight to PostgreSQL with asyncpg on a
connection set up as the API's pool sets its own. The ratio API/SQL of each pair says what the service adds
to PostgreSQL's own work, whatever else the machine was doing at that moment.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from activities.request_list import LIST_SERVER_SETTINGS, PageCursor, RequestFilters, SortKey, list_statement
from bench.stack import BenchStack
from bench.stats import interleaved, latency_summary, ratio_summary
from core.db import create_pool
from domain.state import RequestStatus
from tests.support.stack import EXPORTER_OPERATION

if TYPE_CHECKING:
    from bench.scenarios import Sizes

Figures = dict[str, Any]

_PRODUCTS = [
    "Organic dried mango",
    "Organic roasted coffee beans",
    "Organic cocoa nibs",
    "Organic quinoa",
    "Organic chia seeds",
    "Organic almonds",
    "Organic olive oil",
    "Organic green tea",
    "Organic oat flakes",
    "Organic cashew nuts",
    "Organic dates",
    "Organic sunflower kernels",
    "Organic rice",
    "Organic honey",
    "Organic apple juice concentrate",
    "Organic black pepper",
    "Organic coconut sugar",
    "Organic lentils",
]
_STATUSES = (
    ["expired"] * 40
    + ["active"] * 15
    + ["cancelled"] * 8
    + ["awaiting_transport_document"] * 10
    + ["in_review"] * 8
    + ["awaiting_documents"] * 8
    + ["refused"] * 4
    + ["withdrawn"] * 4
    + ["issuing"] * 3
)
_COLUMNS = [
    "request_id",
    "status",
    "exporter_name",
    "exporter_operation_id",
    "importer_name",
    "importer_operation_id",
    "etd",
    "customs_deadline",
    "late",
    "lead_working_days",
    "commodity_count",
    "product_names",
    "received_at",
    "updated_at",
    "last_sequence",
]


def _rows(count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(7)
    today = date.today()
    rows = []
    for n in range(count):
        etd = today + timedelta(days=rng.randint(-700, 60))
        received = datetime.combine(etd, datetime.min.time(), tzinfo=UTC) - timedelta(days=rng.randint(1, 20))
        deadline = datetime.combine(etd, datetime.min.time(), tzinfo=UTC) + timedelta(days=rng.randint(8, 30))
        products = rng.sample(_PRODUCTS, rng.randint(1, 3))
        exporter = 1000000001 + rng.randrange(200)
        rows.append(
            (
                f"D{n:08d}",
                rng.choice(_STATUSES),
                f"Exporter {exporter}",
                str(exporter),
                f"Importer {n % 150}",
                str(2000000001 + n % 150),
                etd,
                deadline,
                rng.random() < 0.1,
                rng.randint(0, 25),
                len(products),
                products,
                received,
                received + timedelta(hours=rng.randint(1, 2000)),
                rng.randint(2, 12),
            )
        )
    return rows


async def _seed(bench: BenchStack, count: int) -> None:
    """`count` rows as the records writer leaves them (its tsvector of the names included), in one pass: an
    UPDATE after the COPY would leave every row twice on disk until VACUUM FULL."""
    columns = ", ".join(_COLUMNS)
    async with bench.pool.acquire() as conn:
        await conn.execute(f"CREATE TEMPORARY TABLE seed AS SELECT {columns} FROM requests WITH NO DATA")
        await conn.copy_records_to_table("seed", records=_rows(count), columns=_COLUMNS)
        await conn.execute(
            f"INSERT INTO requests ({columns}, product_search) SELECT {columns}, "
            "to_tsvector('simple', array_to_string(product_names, ' ')) FROM seed"
        )
        await conn.execute("DROP TABLE seed")
        # `product_texts` too: the insert's trigger filled it (migration 0061), and the planner sizes the
        # product filter's matches from its statistics.
        await conn.execute("VACUUM ANALYZE requests, product_texts")


@dataclass(frozen=True)
class ListQuery:
    """One list as a person asks for it: the filters `list_requests` receives (an exporter's own operation
    included, as the route adds it), and the same as the API's query parameters."""

    who: str  # "reviewer" or "exporter": whose API token asks
    filters: RequestFilters = field(default_factory=RequestFilters)
    sort: SortKey = SortKey.CUSTOMS_DEADLINE
    descending: bool = False
    offset: int = 0
    limit: int = 50
    after: str | None = None  # a page's `next_after`, filled in once the stack answers

    def params(self) -> dict[str, Any]:
        f = self.filters
        params: dict[str, Any] = {
            "status": [s.value for s in f.statuses],
            "exporter": f.exporter,
            "importer": f.importer,
            "late": f.late,
            "customs_deadline_before": f.customs_deadline_before and f.customs_deadline_before.isoformat(),
            "customs_deadline_after": f.customs_deadline_after and f.customs_deadline_after.isoformat(),
            "product": f.product,
            "sort": self.sort.value,
            "descending": self.descending,
            "limit": self.limit,
            "offset": self.offset,
            "after": self.after,
        }
        return {k: v for k, v in params.items() if v not in (None, [])}

    def statement(self) -> tuple[str, list[Any]]:
        """The statement `list_requests` sends for this list, with its arguments."""
        cursor = PageCursor.decode(self.after, self.sort, self.descending) if self.after else None
        return list_statement(
            self.filters,
            sort=self.sort,
            descending=self.descending,
            limit=self.limit,
            offset=self.offset,
            after=cursor,
        )


_BY_CURSOR = "late requests by customs deadline, page 3 by cursor"


def _queries() -> dict[str, ListQuery]:
    soon = datetime.now(UTC) + timedelta(days=14)
    return {
        "work queue: in review + awaiting documents, by customs deadline": ListQuery(
            "reviewer",
            RequestFilters(statuses=[RequestStatus.IN_REVIEW, RequestStatus.AWAITING_DOCUMENTS]),
        ),
        "awaiting transport document, deadline within 14 days": ListQuery(
            "reviewer",
            RequestFilters(
                statuses=[RequestStatus.AWAITING_TRANSPORT_DOCUMENT], customs_deadline_before=soon
            ),
        ),
        "product text 'cocoa', newest first": ListQuery(
            "reviewer", RequestFilters(product="cocoa"), sort=SortKey.RECEIVED_AT, descending=True
        ),
        "late requests by customs deadline, page 3": ListQuery(
            "reviewer", RequestFilters(late=True), offset=100
        ),
        # Its `after` is page 2's `next_after`, asked for once the rows are there.
        _BY_CURSOR: ListQuery("reviewer", RequestFilters(late=True)),
        "an exporter's own requests, last updated first": ListQuery(
            "exporter", RequestFilters(exporter=EXPORTER_OPERATION), sort=SortKey.UPDATED_AT, descending=True
        ),
    }


async def _page(http: httpx.AsyncClient, query: ListQuery) -> dict[str, Any]:
    answer = await http.get("/requests", params=query.params())
    if answer.status_code != 200:
        raise RuntimeError(f"GET /requests {query.params()}: {answer.status_code} {answer.text[:300]}")
    page: dict[str, Any] = answer.json()
    if not page["items"]:
        raise RuntimeError(f"GET /requests {query.params()}: no rows")
    return page


async def _third_page_cursor(http: httpx.AsyncClient, query: ListQuery) -> str:
    """The `after` that asks for page 3 (rows 101-150), as a client paging by cursor holds it."""
    cursor: str | None = None
    for _ in range(2):
        page = await _page(http, replace(query, after=cursor))
        cursor = page["next_after"]
    assert cursor is not None
    return cursor


def _pair_figures(api: list[float], sql: list[float]) -> Figures:
    return {"api": latency_summary(api), "sql": latency_summary(sql), "api_over_sql": ratio_summary(api, sql)}


async def dashboard(bench: BenchStack, sizes: Sizes) -> Figures:
    """`GET /requests`, filtered and sorted, over `dashboard_rows` rows: each query's API call against the
    same SQL sent straight to PostgreSQL, interleaved, `dashboard_queries` pairs in all."""
    from bench.scenarios import profiled  # here: bench.scenarios imports this module

    await _seed(bench, sizes.dashboard_rows)
    queries = _queries()
    # The twin's connection is set up as the API's pool sets up its own (how it plans the lists).
    twin = await create_pool(
        bench.settings.database_url or "",
        max_size=1,
        server_settings=LIST_SERVER_SETTINGS,
        reset_sessions=False,
    )
    api: dict[str, list[float]] = {}
    sql: dict[str, list[float]] = {}
    try:
        async with bench.http(bench.reviewer_token) as reviewer, bench.http(bench.exporter_token) as exporter:
            clients = {"reviewer": reviewer, "exporter": exporter}
            queries[_BY_CURSOR] = replace(
                queries[_BY_CURSOR], after=await _third_page_cursor(reviewer, queries[_BY_CURSOR])
            )
            names = list(queries)
            statements = {n: q.statement() for n, q in queries.items()}

            def chosen(index: int) -> str:
                # Each query twice in a row (A B, then B A), the queries in turn.
                return names[(index // 2) % len(names)]

            async def through_api(index: int) -> None:
                query = queries[chosen(index)]
                await _page(clients[query.who], query)

            async def straight_to_sql(index: int) -> None:
                statement, args = statements[chosen(index)]
                if not await twin.fetch(statement, *args):
                    raise RuntimeError(f"{chosen(index)}: no rows from SQL")

            # Warm-up: statements prepared on both sides, pages in memory, and past PostgreSQL's first five
            # executions of a prepared statement, after which it may switch to a generic plan.
            await interleaved(len(names) * 2 * 6, through_api, straight_to_sql)
            started = time.perf_counter()
            async with profiled(bench, "dashboard", sizes.profile):
                pairs = await interleaved(sizes.dashboard_queries, through_api, straight_to_sql)
            wall = time.perf_counter() - started
            for index, a, b in zip(pairs.index, pairs.a, pairs.b, strict=True):
                api.setdefault(chosen(index), []).append(a)
                sql.setdefault(chosen(index), []).append(b)
    finally:
        await twin.close()
    every_api = [s for samples in api.values() for s in samples]
    every_sql = [s for samples in sql.values() for s in samples]
    return {
        "rows": sizes.dashboard_rows,
        "pairs": len(pairs.a),
        "errors": len(pairs.errors),
        "first_error": pairs.errors[0] if pairs.errors else None,
        "wall_s": round(wall, 2),
        **latency_summary(every_api),  # the API's, as the table reads them
        **_pair_figures(every_api, every_sql),
        "by_query": {name: _pair_figures(api[name], sql[name]) for name in api},
    }
