"""Draw the case report as a PNG for the monthly report to donors: cases and days per stage,
and the median sustainability score at each follow-up, per programme.

Matplotlib on its Agg backend (no screen on a server), imported only when a chart is asked for:
it takes a second to import and no other command needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safepassage.models.private_files import open_private
from safepassage.models.report import STAGE_ORDER, Report

#: Inches and dots per inch: 2000 x 600 pixels, legible on a slide and in a PDF.
SIZE_INCHES = (20.0, 6.0)
DPI = 100


def _stages_in(stages: set[str]) -> list[str]:
    return [s for s in STAGE_ORDER if s in stages] + sorted(stages - set(STAGE_ORDER))


def draw_chart(report: Report, path: Path) -> Path:
    """Draw cases per stage per programme (stacked), mean days per stage and the median
    sustainability score per follow-up; save as PNG."""
    import matplotlib  # noqa: PLC0415 - matplotlib takes 2 s; only `report --chart` pays

    matplotlib.use("Agg")  # before pyplot: a server has no display
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after choosing the Agg backend, above

    figure, (counts_axes, days_axes, scores_axes) = plt.subplots(1, 3, figsize=SIZE_INCHES, dpi=DPI)
    try:
        programmes = sorted({s.programme for s in report.stages})
        stages = _stages_in({s.stage for s in report.stages})
        grid = {(s.programme, s.stage): s.cases for s in report.stages}
        bottoms = [0] * len(stages)
        for programme in programmes:
            heights = [grid.get((programme, stage), 0) for stage in stages]
            counts_axes.bar(stages, heights, bottom=bottoms, label=programme)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        counts_axes.set_title(f"Cases per stage and programme ({report.total_cases} cases)")
        counts_axes.set_ylabel("cases")
        counts_axes.tick_params(axis="x", labelrotation=45)
        if programmes:
            counts_axes.legend(title="programme")

        timed = _stages_in({t.stage for t in report.stage_times})
        timed_programmes = sorted({t.programme for t in report.stage_times})
        means = {(t.programme, t.stage): t.mean_days for t in report.stage_times}
        width = 0.8 / max(len(timed_programmes), 1)
        for index, programme in enumerate(timed_programmes):
            offsets = [i + index * width for i in range(len(timed))]
            values = [means.get((programme, stage), 0.0) for stage in timed]
            days_axes.bar(offsets, values, width=width, label=programme)
        centre = width * (len(timed_programmes) - 1) / 2
        days_axes.set_xticks([i + centre for i in range(len(timed))], timed, rotation=45)
        days_axes.set_title("Mean days spent per stage (stays completed)")
        days_axes.set_ylabel("days")
        if timed_programmes:
            days_axes.legend(title="programme")
        _draw_scores(scores_axes, report)
        for axes in (counts_axes, days_axes):  # rotated labels read best anchored at their end
            for label in axes.get_xticklabels():
                label.set_horizontalalignment("right")
        figure.suptitle(f"SafePassage case report, {report.generated_at:%Y-%m-%d}")
        figure.tight_layout()
        with open_private(path, "wb") as handle:  # owner-only, like every file we write
            figure.savefig(handle, format="png")
    finally:
        plt.close(figure)
    return path


def _draw_scores(axes: Any, report: Report) -> None:
    """Draw each programme's median composite score at each follow-up (points over enough
    cases only: a point of fewer cases is left out, not drawn as zero)."""
    programmes = sorted({p.programme for p in report.score_points if p.median is not None})
    for programme in programmes:
        points = [
            (p.follow_up, float(p.median))
            for p in report.score_points
            if p.programme == programme and p.median is not None
        ]
        axes.plot([n for n, _ in points], [m for _, m in points], marker="o", label=programme)
    axes.set_title("Median sustainability score per follow-up (enough cases only)")
    axes.set_xlabel("follow-up")
    axes.set_ylabel("composite score (0 worst, 1 best)")
    axes.set_ylim(0, 1)
    axes.xaxis.get_major_locator().set_params(integer=True)
    if programmes:
        axes.legend(title="programme")
    else:
        axes.text(0.5, 0.5, "too few scored cases yet", ha="center", transform=axes.transAxes)
