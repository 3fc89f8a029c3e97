#!/usr/bin/python
"""Ansible module: one egov device action (egov.change.contract.DeviceRequest) on one device.

Runs on the controller (connection: local). The request carries everything (target, candidate file,
validation document, timers, with their defaults from egov.change.contract); the module only adds the
no_log values and hands it to egov.change.device.run. The result is ``egov_result`` (a DeviceResult).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: egov_device
short_description: backup, plan, apply, verify, roll back or query one device (NAPALM, commit-confirm)
options:
  action: {type: str, required: true, choices: [backup, plan, apply, verify, rollback, show]}
  request:
    type: dict
    required: true
    description: egov.change.contract.DeviceRequest.to_vars() (egov change builds it per host)
  password: {type: str, default: "", no_log: true}
  secrets: {type: list, elements: str, default: [], no_log: true, description: values masked in all output}
"""

ARGUMENT_SPEC = {
    "action": {"type": "str", "required": True, "choices": ["backup", "plan", "apply", "verify", "rollback", "show"]},
    "request": {"type": "dict", "required": True},
    "password": {"type": "str", "default": "", "no_log": True},
    "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
}


def main() -> None:
    m = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = m.params
    try:
        from egov.change.contract import DeviceRequest
        from egov.change.device import run
    except ImportError as exc:
        m.fail_json(msg=f"egov is not importable by {__import__('sys').executable}: {exc}; "
                        "set ansible_python_interpreter to egov's .venv/bin/python")
    action = "plan" if m.check_mode and p["action"] in ("apply", "rollback") else p["action"]
    try:
        req = DeviceRequest.from_vars(action, p["request"], password=p["password"], secrets=p["secrets"])
    except (TypeError, ValueError) as exc:  # unknown action, transport, check or field: before any device work
        m.fail_json(msg=str(exc))
    res = run(req)
    out = {"changed": res["status"] == "changed", "msg": res["msg"], "egov_result": res}
    if res["status"] in ("failed", "unreachable", "not_checked"):
        m.fail_json(**out)
    m.exit_json(**out)


if __name__ == "__main__":
    main()
