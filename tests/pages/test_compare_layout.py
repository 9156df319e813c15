"""The comparison on a laptop and a phone: whatever the number of versions, a reader scrolling a
long table still sees which version each column is (the header row) and what each row is (the
first column)."""

import pytest

from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Hyperparameters enough to make the parameters table taller than a window.
PARAMS = {f"feature_{index:02}_weight": round(0.01 * index, 2) for index in range(60)}


@pytest.fixture
def six_versions(people, risk_model):
    return [
        factories.make_version(model=risk_model, by=people.dana, params={**PARAMS, "C": 0.1 * (number + 1)})
        for number in range(6)
    ]


def held(page, table: str) -> dict:
    """Where the header row's cell of the last column and the first column's last cell are, against
    the table's scroll box, once the box (or the page, when the box does not scroll) is scrolled
    to its far corner."""
    return page.evaluate(
        """(testid) => {
            const table = document.querySelector(`[data-testid=${testid}]`);
            const box = table.closest('.table-scroll');
            const scrolls = box.scrollHeight > box.clientHeight + 1;
            box.scrollTop = box.scrollHeight; box.scrollLeft = box.scrollWidth;
            if (!scrolls) { window.scrollTo(0, table.getBoundingClientRect().bottom + window.scrollY - 200); }
            const header = table.querySelector('thead th:last-child').getBoundingClientRect();
            const first = table.querySelector('tbody tr:last-child th, tbody tr:last-child td').getBoundingClientRect();
            const edge = scrolls ? box.getBoundingClientRect() : {top: 0, left: box.getBoundingClientRect().left};
            return {scrolls, headerTop: header.top - edge.top, firstLeft: first.left - edge.left,
                    wide: box.scrollWidth > box.clientWidth + 1};
        }""",
        table,
    )


@pytest.mark.parametrize(
    ("width", "count", "box_scrolls", "wide"),
    [(1440, 6, True, False), (390, 6, True, True), (390, 2, True, False), (1440, 3, False, False)],
)
def test_the_header_row_and_first_column_stay_in_view(page, people, six_versions, width, count, box_scrolls, wide):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "mona")
    page.goto("/models/credit-risk/compare/?" + "&".join(f"v={n}" for n in range(1, count + 1)))
    assert page.locator("[data-testid=compare-params] thead th").count() == count + 1
    position = held(page, "compare-params")
    assert position["scrolls"] is box_scrolls, position
    # The header row sits at the top of the box (or of the window, when the page scrolls) ...
    assert abs(position["headerTop"]) <= 1, position
    # ... and the first column at its left edge, even when the table was scrolled sideways.
    assert abs(position["firstLeft"]) <= 1, position
    assert position["wide"] is wide, position  # six versions on a phone did scroll sideways
    # The page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
