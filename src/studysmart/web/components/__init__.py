"""Reusable pieces of the pages: formatting, prediction preview and badge, timer, charts, dialogs, exams."""
