"""Deploying a project: planning (pure, testable) kept apart from executing (AWS calls, ``sam``).

``plan`` decides everything a deploy will do from the config and the build output, ``execute``
carries a plan out through one of two engines, ``stack`` reads what CloudFormation reports, and
``operations`` holds the day-two commands (status, logs, rollback, destroy).
"""
