"""ECharts options for the analytics page, built from the analytics service's results (plain dicts, no JS).

Intervals are drawn as floating bars (an invisible bar up to the low end, a translucent one up to the high
end) on a category axis, which needs no custom renderers. Colours and text read on light and dark backgrounds.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from nicegui import ui

from studysmart.analytics import service as analytics

MUTED = "#8c8f98"
GRID_LINE = "rgba(140, 143, 152, 0.25)"
INTERVAL = "rgba(63, 81, 181, 0.28)"
Options = dict[str, Any]
AXIS_TITLE_CHARS = 18


def _axis(kind: str, **extra: Any) -> dict[str, Any]:
    axis: dict[str, Any] = {"type": kind, "axisLabel": {"color": MUTED, "hideOverlap": True},
                            "splitLine": {"lineStyle": {"color": GRID_LINE}}}
    axis.update(extra)
    return axis


def short_date(iso: str) -> str:
    """``"2025-03-10"`` -> ``"10 Mar"`` (axis labels that fit a phone)."""
    return date.fromisoformat(iso).strftime("%d %b").lstrip("0")


def axis_title(title: str, *, limit: int = AXIS_TITLE_CHARS) -> str:
    """A task's title as an axis label: shortened with an ellipsis past ``limit`` characters."""
    title = " ".join(title.split())
    return title if len(title) <= limit else f"{title[:limit - 1].rstrip()}…"


def _base(x: dict[str, Any], y: Any, series: list[dict[str, Any]], *, legend: bool = True) -> Options:
    return {
        "backgroundColor": "transparent",
        "animation": False,
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"show": legend, "type": "scroll", "top": 0, "textStyle": {"color": MUTED}},
        "grid": {"left": 8, "right": 16, "top": 40 if legend else 12, "bottom": 8, "containLabel": True},
        "xAxis": x,
        "yAxis": y,
        "series": series,
    }


def _floating(name: str, low: list[float | None], high: list[float | None], *,
              stack: str) -> list[dict[str, Any]]:
    span = [None if lo is None or hi is None else round(hi - lo, 4)
            for lo, hi in zip(low, high, strict=True)]
    return [
        {"name": f"{name} base", "type": "bar", "stack": stack, "data": low, "silent": True,
         "barWidth": "45%",
         "itemStyle": {"color": "transparent"}, "tooltip": {"show": False}, "legendHoverLink": False},
        {"name": name, "type": "bar", "stack": stack, "data": span, "barWidth": "45%",
         "itemStyle": {"color": INTERVAL, "borderRadius": 3}},
    ]


def accuracy_over_time(progress: analytics.Progress) -> Options:
    """Accuracy (%) per topic per period."""
    series = [{"name": topic, "type": "line", "connectNulls": True, "symbolSize": 6,
               "data": [None if v is None else round(100 * v, 1) for v in values]}
              for topic, values in progress.accuracy.items()]
    return _base(_axis("category", data=[short_date(p) for p in progress.periods], boundaryGap=False),
                 _axis("value", min=0, max=100, axisLabel={"color": MUTED, "formatter": "{value}%"}), series)


def time_over_time(progress: analytics.Progress) -> Options:
    """Median minutes per task per topic per period."""
    series = [{"name": topic, "type": "line", "connectNulls": True, "symbolSize": 6,
               "data": [None if v is None else round(v / 60, 1) for v in values]}
              for topic, values in progress.median_seconds.items()]
    return _base(_axis("category", data=[short_date(p) for p in progress.periods], boundaryGap=False),
                 _axis("value", min=0, axisLabel={"color": MUTED, "formatter": "{value} min"}), series)


def calibration(bins: list[analytics.CalibrationBin]) -> Options:
    """Observed rate (with its 80% interval) against the mean predicted P(correct), per bin of predictions."""
    labels = [f"{100 * b.low:.0f}–{100 * b.high:.0f}%" for b in bins]

    def pct(value: float | None) -> float | None:
        return None if value is None else round(100 * value, 1)

    series = [
        *_floating("observed 80% interval", [pct(b.observed_low) for b in bins],
                   [pct(b.observed_high) for b in bins], stack="calibration"),
        {"name": "observed", "type": "scatter", "symbolSize": 10, "data": [pct(b.observed) for b in bins]},
        {"name": "predicted", "type": "line", "symbol": "diamond", "symbolSize": 8, "connectNulls": True,
         "data": [pct(b.mean_predicted) for b in bins], "lineStyle": {"type": "dashed"}},
        {"name": "answers", "type": "bar", "yAxisIndex": 1, "data": [b.count for b in bins],
         "barWidth": "20%",
         "itemStyle": {"color": "rgba(140, 143, 152, 0.35)"}},
    ]
    options = _base(_axis("category", data=labels),
                    [_axis("value", min=0, max=100, axisLabel={"color": MUTED, "formatter": "{value}%"}),
                     _axis("value", splitLine={"show": False}, minInterval=1)], series)
    options["legend"]["data"] = ["observed", "observed 80% interval", "predicted", "answers"]
    return options


def time_checks(checks: list[analytics.TimeCheck], *, last: int = 30) -> Options:
    """Predicted 80% time range and the actual minutes of the latest completed tasks."""
    shown = checks[-last:]
    labels = [axis_title(c.title) for c in shown]
    series = [
        *_floating("predicted 80% range", [round(c.seconds_low / 60, 1) for c in shown],
                   [round(c.seconds_high / 60, 1) for c in shown], stack="time"),
        {"name": "predicted", "type": "scatter", "symbol": "diamond", "symbolSize": 8,
         "data": [round(c.expected_seconds / 60, 1) for c in shown]},
        {"name": "actual", "type": "scatter", "symbolSize": 9,
         "data": [round(c.actual_seconds / 60, 1) for c in shown]},
    ]
    options = _base(_axis("category", data=labels),
                    _axis("value", min=0, axisLabel={"color": MUTED, "formatter": "{value} min"}), series)
    options["legend"]["data"] = ["actual", "predicted", "predicted 80% range"]
    return options


def abilities(rows: list[analytics.TopicAbility]) -> Options:
    """Per topic: the answered rate with its 80% interval, and the serving model's P(correct) (medium)."""
    labels = [r.topic for r in rows]
    series = [
        *_floating("80% interval", [round(100 * r.low, 1) for r in rows],
                   [round(100 * r.high, 1) for r in rows], stack="ability"),
        {"name": "your rate", "type": "scatter", "symbolSize": 10,
         "data": [round(100 * r.mean, 1) for r in rows]},
        {"name": "predicted, medium task", "type": "scatter", "symbol": "diamond", "symbolSize": 9,
         "data": [None if r.predicted is None else round(100 * r.predicted, 1) for r in rows]},
    ]
    rotate = 30 if len(labels) > 4 else 0
    options = _base(_axis("category", data=labels, axisLabel={"color": MUTED, "interval": 0, "rotate": rotate}),
                    _axis("value", min=0, max=100, axisLabel={"color": MUTED, "formatter": "{value}%"}), series)
    options["legend"]["data"] = ["your rate", "80% interval", "predicted, medium task"]
    return options


def weekly_time(weekly: analytics.WeeklyTime) -> Options:
    """Minutes per topic per week, stacked."""
    series = [{"name": topic, "type": "bar", "stack": "minutes", "data": values, "barMaxWidth": 36}
              for topic, values in weekly.minutes.items()]
    return _base(_axis("category", data=[f"wk {short_date(w)}" for w in weekly.weeks]),
                 _axis("value", axisLabel={"color": MUTED, "formatter": "{value} min"}), series)


def chart(options: Options, *, label: str, marker: str) -> ui.echart:
    """A chart of fixed height (no layout jump), described for screen readers."""
    return ui.echart(options).classes("w-full h-72").props(f'role=img aria-label="{label}"').mark(marker)
