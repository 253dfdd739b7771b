"""Exam preparation: stored exams, their plan and readiness, the .ics export, turning a planned day into tasks.

``engine/`` is the pure planner (Pydantic models, no database). The rest is the domain around it:
``models`` (the exam tables), ``schemas`` (API bodies), ``inputs`` (what the planner needs to know about a
student, read from the database and the serving model), ``service``, ``api`` and ``ics``.
"""
