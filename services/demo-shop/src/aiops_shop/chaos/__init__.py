"""`aiops chaos`: inject the demo shop's faults on a seeded schedule, then score the incidents the
platform opened for them (detection time, root cause, one incident per fault, auto-resolve, false
alarms), reading only the incidents API.

Modules: `scenarios` (the faults and their ground truth), `schedule` (when each runs), `shop`
(the shop's fault controls over HTTP), `runner` (follows the schedule), `incidents_api` (the
incidents API, read over HTTP), `matching` (which incident belongs to which fault), `scorecard`
(the scores and targets), `report` (the table and the JSON), `command` (the click command).
"""
