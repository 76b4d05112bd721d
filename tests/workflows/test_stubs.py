"""The stubs stand in for every real activity, under its real name, and nothing else: a new
activity in worker.py fails here until the stubs have it too."""

from sqlalchemy.orm import sessionmaker
from temporalio import activity

from tests.workflows.stubs import Stubs
from worker import activities_for


def _names(activities: list[object]) -> list[str]:
    names = []
    for fn in activities:
        definition = activity._Definition.from_callable(fn)  # type: ignore[arg-type]
        assert definition is not None and definition.name is not None
        names.append(definition.name)
    return names


def test_the_stubs_register_every_real_activity_under_its_name() -> None:
    # An unbound session factory: building the real activities connects to nothing.
    real = _names(list(activities_for(sessionmaker())))
    assert sorted(_names(list(Stubs().activities()))) == sorted(real)
    assert len(set(real)) == len(real)
