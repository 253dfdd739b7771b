"""The planning service on SQLite and PostgreSQL: exams, the cached plan and when it is recomputed (replanning
after completions and missed days), materializing a day, the .ics export, LNIRT abilities, the CLI command."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import typer
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from studysmart.commands.plan import plan as plan_command
from studysmart.learning import history as stored_answers
from studysmart.ml import base as ml
from studysmart.ml.data import Queries
from studysmart.ml.synthetic import generate, generate_learning
from studysmart.planning import inputs, service, state
from studysmart.planning.engine import InvalidExamError, PlanningError, readiness
from studysmart.planning.models import Exam, ExamTopic
from studysmart.planning.schemas import ExamUpdate, exam_update
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus, item_label
from studysmart.users.models import User
from tests.factories import make_user

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
TODAY = NOW.date()
TOPICS = [{"topic": "Algebra", "weight": 2.0}, {"topic": "Geometry", "weight": 1.0}]


@pytest.fixture
def student(session: Session) -> User:
    user = make_user(session, now=NOW)
    session.commit()
    return user


def new_exam(session: Session, user: User, *, days: int = 6, minutes: float = 30, **kw) -> Exam:
    exam = service.create_exam(session=session, user=user, name=kw.pop("name", "Finals"),
                               date=TODAY + timedelta(days=days), topics=kw.pop("topics", TOPICS),
                               minutes_per_weekday=kw.pop("minutes_per_weekday", [minutes] * 7), now=NOW, **kw)
    session.commit()
    return exam


def complete(session: Session, user: User, topic: str, difficulty: str = "easy", *, at: datetime = NOW,
             correct: bool = True, seconds: float = 90.0) -> Task:
    task = tasks.create_task(session=session, user=user, title="practice", topic=topic,
                             difficulty=Difficulty(difficulty), now=at)
    tasks.complete_task(session=session, user=user, task_id=task.id, correct=correct, seconds=seconds, now=at)
    session.commit()
    return task


def test_exam_crud_and_isolation(session: Session, student: User) -> None:
    exam = new_exam(session, student, target_score=0.8, days_off=[TODAY + timedelta(days=2)])
    assert [(et.topic.name, et.weight) for et in exam.topics] == [("Algebra", 2.0), ("Geometry", 1.0)]
    assert exam.days_off_dates() == [TODAY + timedelta(days=2)]
    other = make_user(session, now=NOW)
    assert service.list_exams(session=session, user=student) == [exam]
    assert service.list_exams(session=session, user=other) == []
    for call in (service.get_exam, service.delete_exam):
        with pytest.raises(service.ExamNotFound):
            call(session=session, user=other, exam_id=exam.id)
    with pytest.raises(service.ExamNotFound):
        service.exam_state(session=session, user=other, exam_id=exam.id, now=NOW)
    service.update_exam(session=session, user=student, exam_id=exam.id, now=NOW,
                        update=ExamUpdate.model_validate({"name": "Maths finals", "topics": [
                            {"topic": "geometry", "weight": 1}, {"topic": "Calculus", "weight": 3}]}))
    session.commit()
    session.expire_all()
    again = service.get_exam(session=session, user=student, exam_id=exam.id)
    assert again.name == "Maths finals"
    assert [(et.topic.name, et.weight) for et in again.topics] == [("Geometry", 1.0), ("Calculus", 3.0)]
    service.delete_exam(session=session, user=student, exam_id=exam.id)
    session.commit()
    assert session.scalars(select(ExamTopic)).all() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date": TODAY - timedelta(days=1)}, "date"),
        ({"topics": []}, "topics"),
        ({"topics": [{"topic": "Algebra"}, {"topic": "  algebra "}]}, "topics[1].topic"),
        ({"topics": [{"topic": "Algebra", "weight": -1}]}, "topics[0].weight"),
        ({"minutes_per_weekday": [30, -5, 30, 30, 30, 30, 30]}, "minutes_per_weekday[1]"),
        ({"minutes_per_weekday": [30] * 8}, "minutes_per_weekday"),
        ({"target_score": 1.5}, "target_score"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_invalid_exams_name_the_field(session: Session, student: User, changes: dict, field: str) -> None:
    arguments = {"name": "Finals", "date": TODAY + timedelta(days=5), "topics": TOPICS,
                 "minutes_per_weekday": [30] * 7, **changes}
    with pytest.raises(InvalidExamError) as caught:
        service.create_exam(session=session, user=student, now=NOW, **arguments)
    assert caught.value.field == field
    session.rollback()
    exam = new_exam(session, student)
    with pytest.raises(InvalidExamError) as caught:
        service.update_exam(session=session, user=student, exam_id=exam.id, update=exam_update(changes), now=NOW)
    assert caught.value.field == field


def test_the_plan_is_cached_and_recomputed_after_a_completion(session: Session, student: User) -> None:
    exam = new_exam(session, student)
    first = service.exam_state(session=session, user=student, exam_id=exam.id, now=NOW)
    assert [d.date for d in first.plan.days] == [TODAY + timedelta(days=k) for k in range(6)]
    for day in first.plan.days:
        assert 0 < day.minutes_planned <= day.minutes_available == 30
    later = NOW + timedelta(hours=1)
    cached = service.exam_state(session=session, user=student, exam_id=exam.id, now=later)
    assert cached.plan is first.plan and cached.readiness is first.readiness  # nothing changed: no recompute

    complete(session, student, "Algebra", "easy", at=later, seconds=600)
    again = service.exam_state(session=session, user=student, exam_id=exam.id, now=later)
    assert again.plan is not first.plan
    today = again.plan.day(TODAY)
    assert today is not None
    done = [i for i in today.items if i.done]
    assert [(i.topic, i.difficulty, i.done) for i in done] == [("Algebra", "easy", 1)]
    assert today.minutes_planned <= today.minutes_available
    assert again.plan.created_on == TODAY
    # work outside the exam's topics changes the model's view of the student but is not exam work
    complete(session, student, "History", at=later)
    third = service.exam_state(session=session, user=student, exam_id=exam.id, now=later)
    assert {i.topic for d in third.plan.days for i in d.items} <= {"Algebra", "Geometry"}


def test_a_missed_day_is_replanned_the_next_day(session: Session, student: User) -> None:
    exam = new_exam(session, student)
    first = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW)
    session.commit()
    tomorrow = NOW + timedelta(days=1)
    again = service.exam_state(session=session, user=student, exam_id=exam.id, now=tomorrow)
    assert again.plan.days[0].date == TODAY and again.plan.days[0].items == ()  # nothing was done
    missed = {(m.topic, m.difficulty): m.count for m in again.plan.missed}
    assert missed == {(i.topic, i.difficulty): i.count for i in first.days[0].items}
    assert len(again.plan.days) == len(first.days)
    for day in again.plan.days[1:]:
        assert day.minutes_planned <= day.minutes_available
    assert again.readiness.forecast_on_exam_day >= again.readiness.expected_score


def test_editing_the_exam_replans_and_keeps_the_work_done(session: Session, student: User) -> None:
    exam = new_exam(session, student)
    service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW)
    complete(session, student, "Geometry", "easy", seconds=300)
    service.update_exam(session=session, user=student, exam_id=exam.id, now=NOW,
                        update=ExamUpdate(minutes_per_weekday=[20] * 7, days_off=[TODAY + timedelta(days=1)]))
    session.commit()
    assert exam.plan_record is not None and {d["minutes_available"] for d in exam.plan_record["days"]} == {0, 20}
    plan = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW)
    assert all(d.minutes_available == (0 if d.date == TODAY + timedelta(days=1) else 20) for d in plan.days)
    assert all(d.minutes_planned <= d.minutes_available for d in plan.days)
    kept = plan.day(TODAY)
    assert kept is not None and [(i.topic, i.done) for i in kept.items if i.done] == [("Geometry", 1)]


def test_materialize_creates_the_days_tasks_once(session: Session, student: User) -> None:
    exam = new_exam(session, student)
    planned = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW).day(TODAY)
    assert planned is not None and planned.items
    made = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW)
    session.commit()
    assert made.created and len(made.tasks) == sum(i.count for i in planned.items)
    for task in made.tasks:
        assert task.status is TaskStatus.PLANNED and task.due_date == TODAY and task.owner_id == student.id
        assert task.p_correct is not None and task.expected_seconds is not None and task.model
        assert re.fullmatch(rf"{task.topic.name}: (1 {task.difficulty.value} problem|(\d+) "
                            rf"{task.difficulty.value} problems \(\d+ of \2\))", task.title), task.title
    assert {t.topic.name for t in made.tasks[:2]} == {i.topic for i in planned.items} or len(planned.items) == 1
    again = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW)
    assert not again.created and [t.id for t in again.tasks] == [t.id for t in made.tasks]
    assert session.scalar(select(Task.id).where(Task.owner_id == student.id).order_by(Task.id.desc())) == \
        made.tasks[-1].id  # nothing new was created
    for day in (TODAY - timedelta(days=1), exam.exam_date):
        with pytest.raises(PlanningError) as caught:
            service.materialize_day(session=session, user=student, exam_id=exam.id, day=day, now=NOW)
        assert caught.value.field == "date"


def _cells(items) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for item in items:
        out[(item.topic, item.difficulty)] = out.get((item.topic, item.difficulty), 0) + item.count - item.done
    return out


def _task_cells(found: list[Task]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for task in found:
        key = (task.topic.name, task.difficulty.value)
        out[key] = out.get(key, 0) + 1
    return out


def test_once_todays_tasks_are_added_the_plan_keeps_them_as_todays_work(session: Session, student: User) -> None:
    exam = new_exam(session, student)
    made = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW).tasks
    session.commit()
    first = made[0]
    tasks.complete_task(session=session, user=student, task_id=first.id, correct=True, seconds=60.0,
                        now=NOW + timedelta(minutes=5))  # a completion moves the predictions: a replan
    session.commit()
    later = NOW + timedelta(minutes=10)
    today = service.exam_plan(session=session, user=student, exam_id=exam.id, now=later).day(TODAY)
    assert today is not None
    pending = [t for t in made if t.id != first.id]
    assert _cells(today.items) == _task_cells(pending)  # the plan's open work today is the task list
    assert sum(i.done for i in today.items) == 1
    tasks.delete_task(session=session, user=student, task_id=pending[0].id)  # the list changes: so does the plan
    session.commit()
    today = service.exam_plan(session=session, user=student, exam_id=exam.id, now=later).day(TODAY)
    assert today is not None and _cells(today.items) == _task_cells(pending[1:])


def test_unfinished_tasks_of_a_missed_day_move_to_the_next_day_instead_of_piling_up(
        session: Session, student: User) -> None:
    exam = new_exam(session, student)
    yesterday = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW).tasks
    session.commit()
    tomorrow = NOW + timedelta(days=1)
    result = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY + timedelta(days=1),
                                     now=tomorrow)
    session.commit()
    assert result.created and result.reused > 0
    carried = [t for t in result.tasks if t.id in {y.id for y in yesterday}]
    assert len(carried) == result.reused and all(t.due_date == TODAY + timedelta(days=1) for t in carried)
    open_tasks = list(session.scalars(select(Task).where(Task.owner_id == student.id,
                                                         Task.status != TaskStatus.DONE)))
    planned = service.exam_plan(session=session, user=student, exam_id=exam.id, now=tomorrow)
    day = planned.day(TODAY + timedelta(days=1))
    assert day is not None and day.minutes_planned <= day.minutes_available
    # the open list is the day's tasks plus yesterday's leftovers the new day had no place for, never both
    assert len(open_tasks) == len(result.tasks) + len(yesterday) - result.reused
    assert _cells(day.items) == _task_cells(result.tasks)


def test_the_ics_has_one_event_per_study_block(session: Session, student: User) -> None:
    exam = new_exam(session, student, days=4, days_off=[TODAY + timedelta(days=1)], timezone="Europe/Berlin")
    plan = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW)
    calendar = Calendar.from_ical(service.exam_ics(session=session, user=student, exam_id=exam.id, now=NOW))
    events = calendar.walk("VEVENT")
    blocks = [d for d in plan.days if d.items]
    assert len(events) == len(blocks) == 3
    starts = sorted(e.decoded("dtstart") for e in events)
    assert [s.date() for s in starts] == [d.date for d in blocks]
    assert all(s.hour == 18 and s.utcoffset() == timedelta(hours=1) for s in starts)


def test_a_past_exam_keeps_its_final_plan(session: Session, student: User) -> None:
    exam = new_exam(session, student, days=2)
    service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW)
    state = service.exam_state(session=session, user=student, exam_id=exam.id, now=NOW + timedelta(days=5))
    assert [d.date for d in state.plan.days] == [TODAY, TODAY + timedelta(days=1)]
    assert all(d.items == () for d in state.plan.days)  # nothing was done; nothing is planned after the exam
    assert state.readiness.forecast_on_exam_day == pytest.approx(state.readiness.expected_score)


@pytest.fixture(scope="module")
def practice_model():
    return ml.create("practice").fit(generate_learning(n_persons=120, n_topics=3, answers_per_person=40,
                                                       seed=5).responses)


def test_the_plan_reads_the_served_model_of_learning(session: Session, student: User, practice_model,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Gains, forgetting and the exam-day P(correct) come from the served practice model; the linearised gain
    of a block of practice is what the model itself predicts after that block."""
    monkeypatch.setattr(inputs, "_serving_entry",
                        lambda session, user: SimpleNamespace(name="practice", version=1, stamp=1,
                                                              model=practice_model))
    exam = new_exam(session, student, days=20)
    for k in range(12):
        complete(session, student, "Algebra", ("easy", "medium")[k % 2], correct=k % 3 != 0,
                 at=NOW - timedelta(hours=2, minutes=12 - k))
    topics = [et.topic for et in exam.topics]
    found = inputs.student_inputs(session=session, user=student, topics=topics, today=TODAY,
                                  exam_date=exam.exam_date)
    learning = found.predictions.learning["Algebra"]
    assert learning.gain_correct["medium"] > 0
    assert learning.retention[0] == 1.0 and learning.retention[19] <= learning.retention[1] < 1.0
    algebra = found.predictions.by_topic("Algebra")["medium"]
    assert algebra.exam_p < algebra.p_correct  # what was practised two hours ago fades by the exam
    # the linearisation against the model: a block of 10 medium problems at today's P(correct), the topic's
    # tasks predicted a week later with and without it
    key = topics[0].key
    history = stored_answers.user_history(session, student)
    person = stored_answers.person_label(student.id)
    when = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC).timestamp() + 12 * 3600
    query = Queries.from_columns([person] * 3, [item_label(key, d) for d in ("easy", "medium", "hard")],
                                 topic=[key] * 3, difficulty=["easy", "medium", "hard"],
                                 order=[when + 7 * 86_400.0] * 3)
    p = algebra.p_correct
    both = inputs.with_practice(history, person, key, item_label(key, "medium"), "medium", when, p)
    before = practice_model.predict(query, history=history).p_correct
    after = practice_model.predict(query, history=both).p_correct
    model_gain = float(np.mean(np.log(after / (1 - after)) - np.log(before / (1 - before))))
    linear = learning.practice_gain({"medium": 10.0}, {"medium": p}) * learning.retained(7)
    assert linear == pytest.approx(max(model_gain, 0.0), rel=0.05, abs=0.01)  # a loss counts as no gain
    ready = service.exam_readiness(session=session, user=student, exam_id=exam.id, now=NOW)
    unplanned = readiness(state.exam_spec(exam), found.predictions)  # no more practice: forgetting alone
    assert ready.forecast_on_exam_day > unplanned.forecast_on_exam_day
    assert ready.forecast_low < ready.forecast_on_exam_day < ready.forecast_high


def test_a_single_ability_model_shares_its_theta_over_topics(session: Session, student: User,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = generate(40, 12, 2, seed=3, topic_names=["algebra", "geometry"])
    model = ml.create("lnirt").fit(data.responses)
    monkeypatch.setattr(inputs, "_serving_entry",
                        lambda session, user: SimpleNamespace(name="lnirt", version=1, stamp=1, model=model))
    exam = new_exam(session, student)
    found = inputs.student_inputs(session=session, user=student, topics=[et.topic for et in exam.topics])
    assert found.predictions.shared_ability
    assert all(not g.gain_correct and g.retention == (1.0,) for g in found.predictions.learning.values())
    abilities = list(found.predictions.abilities.values())
    assert len({(a.theta, a.theta_sd) for a in abilities}) == 1 and abilities[0].theta_sd > 0
    complete(session, student, "Algebra", correct=False)
    updated = inputs.student_inputs(session=session, user=student, topics=[et.topic for et in exam.topics])
    assert next(iter(updated.predictions.abilities.values())).theta < abilities[0].theta  # the online update
    ready = service.exam_readiness(session=session, user=student, exam_id=exam.id, now=NOW)
    assert ready.low < ready.expected_score < ready.high


def test_the_plan_command(session: Session, student: User, settings) -> None:
    exam = new_exam(session, student, name="Maths finals")
    app = typer.Typer()
    app.command("plan")(plan_command)

    @app.callback()
    def main() -> None:
        """A test app with one subcommand."""

    runner = CliRunner()
    shown = runner.invoke(app, ["plan", str(exam.id), "--days", "3"])
    assert shown.exit_code == 0, shown.output
    assert "Maths finals" in shown.output and "Expected score now" in shown.output
    as_json = runner.invoke(app, ["plan", str(exam.id), "--json"])
    assert as_json.exit_code == 0 and '"days"' in as_json.output
    missing = runner.invoke(app, ["plan", "99999"])
    assert missing.exit_code == 2 and missing.output.strip() == "error: no exam with id 99999"


def test_deleting_the_student_deletes_their_exams(session: Session, student: User) -> None:
    new_exam(session, student)
    session.delete(session.get(User, student.id))
    session.commit()
    assert session.scalars(select(Exam)).all() == [] and session.scalars(select(ExamTopic)).all() == []


def test_days_are_counted_in_the_exams_time_zone(session: Session, student: User) -> None:
    late = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)  # already Tuesday in Tokyo
    exam = service.create_exam(session=session, user=student, name="Tokyo", date=date(2025, 3, 6), topics=TOPICS,
                               minutes_per_weekday=[30] * 7, timezone="Asia/Tokyo", now=late)
    plan = service.exam_plan(session=session, user=student, exam_id=exam.id, now=late)
    assert plan.days[0].date == date(2025, 3, 4)


def test_tasks_on_the_list_are_charged_their_mean_time_like_planned_items() -> None:
    """A task keeps the median exp(mu) and its 80% interval; the planner counts lognormal means."""
    z = 1.2815515655446004
    task = Task(expected_seconds=60.0, seconds_low=60.0 * math.exp(-z), seconds_high=60.0 * math.exp(z))  # sd 1
    assert state.mean_seconds(task) == pytest.approx(60.0 * math.exp(0.5))
    assert state.mean_seconds(Task(expected_seconds=60.0)) == 60.0  # no interval: the median
    assert state.mean_seconds(Task()) is None


def test_adding_the_days_tasks_reuses_open_tasks_of_the_same_topic_and_difficulty(session: Session,
                                                                                   student: User) -> None:
    exam = new_exam(session, student)
    planned = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW).day(TODAY)
    assert planned is not None and planned.items
    item = planned.items[0]
    other = next(d for d in ("easy", "medium", "hard") if d not in {i.difficulty for i in planned.items
                                                                   if i.topic == item.topic})
    same = tasks.create_task(session=session, user=student, title="my own", topic=item.topic,
                             difficulty=Difficulty(item.difficulty), now=NOW)
    later = tasks.create_task(session=session, user=student, title="next week", topic=item.topic,
                              difficulty=Difficulty(item.difficulty), due_date=TODAY + timedelta(days=5), now=NOW)
    harder = tasks.create_task(session=session, user=student, title="other difficulty", topic=item.topic,
                               difficulty=Difficulty(other), now=NOW)
    session.commit()
    made = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW)
    session.commit()
    ids = [t.id for t in made.tasks]
    assert made.reused == 1 and same.id in ids and later.id not in ids and harder.id not in ids
    assert same.due_date == TODAY and later.due_date == TODAY + timedelta(days=5) and harder.due_date is None
    assert _task_cells(made.tasks) == _cells(planned.items)  # the plan's problems, one task each
    new = [t for t in made.tasks if t.id != same.id]
    assert all(not t.title.startswith("Finals") for t in new)
    n_same = sum(1 for t in new if (t.topic.name, t.difficulty.value) == (item.topic, item.difficulty))
    titled = f"{item.topic}: {n_same} {item.difficulty} problem" + ("s" if n_same != 1 else "")
    assert n_same == 0 or all(t.title.startswith(titled) for t in new
                              if (t.topic.name, t.difficulty.value) == (item.topic, item.difficulty))


def _today_titles(session: Session, user: User, at: datetime) -> list[tuple[str, bool]]:
    found = service.today_plan(session=session, user=user, now=at, zone=ZoneInfo("UTC"))
    return [(e.title, e.task is not None) for e in found.entries]


def test_todays_plan_is_the_open_tasks_then_the_exams_work_not_on_the_list(session: Session,
                                                                          student: User) -> None:
    own = tasks.create_task(session=session, user=student, title="Read chapter 3", topic="History",
                            difficulty=Difficulty.EASY, due_date=TODAY, now=NOW)
    tasks.create_task(session=session, user=student, title="Next week", topic="History",
                      difficulty=Difficulty.EASY, due_date=TODAY + timedelta(days=7), now=NOW)
    exam = new_exam(session, student)
    planned = service.exam_plan(session=session, user=student, exam_id=exam.id, now=NOW).day(TODAY)
    assert planned is not None
    before = _today_titles(session, student, NOW)
    assert before[0] == ("Read chapter 3", True) and ("Next week", True) not in before
    assert [on_list for _, on_list in before[1:]] == [False] * sum(i.count for i in planned.items)
    found = service.today_plan(session=session, user=student, now=NOW, zone=ZoneInfo("UTC"))
    assert found.to_add == len(before) - 1 and found.seconds > 0
    made = service.materialize_day(session=session, user=student, exam_id=exam.id, day=TODAY, now=NOW)
    session.commit()
    after = _today_titles(session, student, NOW)
    assert sorted(title for title, _ in after) == sorted(title for title, _ in before)  # the same list
    assert all(on_list for _, on_list in after)
    done = made.tasks[0]
    tasks.complete_task(session=session, user=student, task_id=done.id, correct=True, seconds=60.0, now=NOW)
    session.commit()
    left = list(after)
    left.remove((done.title, True))
    assert sorted(_today_titles(session, student, NOW)) == sorted(left)  # the completed task left the list
    assert own.id in {e.task.id for e in service.today_plan(session=session, user=student, now=NOW,
                                                            zone=ZoneInfo("UTC")).entries if e.task}
