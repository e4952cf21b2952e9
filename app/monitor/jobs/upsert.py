"""One row per key: insert it, or replace its values when the key is already there."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError


def insert_or_replace(session, model, key: dict, values: dict) -> None:
    """Write the row of `model` whose unique columns are `key`, then commit.

    The unique constraint decides: a second write for the same key (a forced
    re-run, a day computed again) updates the row instead of adding one.
    """
    try:
        session.add(model(**key, **values))
        session.commit()
    except IntegrityError:
        session.rollback()
        row = session.execute(select(model).filter_by(**key)).scalar_one()
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()
