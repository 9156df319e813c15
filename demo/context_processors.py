"""What every page of the demo says while ``rundemo --seed`` is still seeding it."""

from demo.state import seeding_marker


def seeding(request) -> dict:
    """``demo_seeding``: {"done", "total"} versions while seeding runs, {"failed": True} when it
    stopped half-way; absent once the demo is complete (the marker is gone)."""
    try:
        text = seeding_marker().read_text()
    except OSError:
        return {}
    if text == "failed":
        return {"demo_seeding": {"failed": True}}
    if text == "starting":  # the seeding's process is starting: no count yet
        return {"demo_seeding": {"done": 0, "total": 0}}
    done, _, total = text.partition("/")
    if not (done.isdigit() and total.isdigit()):
        return {}
    return {"demo_seeding": {"done": int(done), "total": int(total)}}
