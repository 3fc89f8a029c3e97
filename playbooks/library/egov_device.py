#!/usr/bin/python
"""Ansible module: one egov change action on one device, through its NAPALM driver.

Runs on the controller (connection: local). The device's platform decides the NAPALM driver
(napalm_frr for FRR; NAPALM's own for IOS-XE and Junos). See egov.change.device for the logic.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: egov_device
short_description: backup, plan, apply, verify or roll back one device (NAPALM, commit-confirm)
options:
  action: {type: str, required: true, choices: [backup, plan, apply, verify, rollback, show]}
  driver: {type: str, required: true}
  address: {type: str, required: true}
  port: {type: int, default: 22}
  username: {type: str, required: true}
  password: {type: str, default: "", no_log: true}
  key_file: {type: str}
  optional_args: {type: dict, default: {}}
  transport: {type: str, default: napalm, choices: [napalm, netmiko]}
  netmiko_device_type: {type: str, default: ""}
  config_file: {type: path, description: candidate (plan, apply) or backup to restore (rollback)}
  expect: {type: dict, default: {}, description: post-checks (egov.change.expect)}
  revert_in: {type: int, default: 120}
  verify_wait: {type: float, default: 45}
  journal: {type: path}
  change_id: {type: str, default: ""}
  secrets: {type: list, elements: str, default: [], no_log: true}
  commands: {type: list, elements: str, default: [], description: for action show}
  accept_unchecked:
    type: list
    elements: str
    default: []
    description: post-checks (interfaces, isis, bfd, ping) accepted as not run where the driver has no
      getter for them (verify, apply); any other check that cannot run fails the device (status not_checked)
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    m = AnsibleModule(argument_spec=dict(
        action=dict(type="str", required=True, choices=["backup", "plan", "apply", "verify", "rollback", "show"]),
        commands=dict(type="list", elements="str", default=[]),
        driver=dict(type="str", required=True),
        address=dict(type="str", required=True),
        port=dict(type="int", default=22),
        username=dict(type="str", required=True),
        password=dict(type="str", default="", no_log=True),
        key_file=dict(type="str"),
        optional_args=dict(type="dict", default={}),
        transport=dict(type="str", default="napalm", choices=["napalm", "netmiko"]),
        netmiko_device_type=dict(type="str", default=""),
        config_file=dict(type="path"),
        expect=dict(type="dict", default={}),
        revert_in=dict(type="int", default=120),
        verify_wait=dict(type="float", default=45.0),
        journal=dict(type="path"),
        change_id=dict(type="str", default=""),
        secrets=dict(type="list", elements="str", default=[], no_log=True),
        accept_unchecked=dict(type="list", elements="str", default=[]),
    ), supports_check_mode=True)
    p = m.params
    try:
        from egov.change.device import Target, read_text, run_action
    except ImportError as exc:
        m.fail_json(msg=f"egov is not importable by {__import__('sys').executable}: {exc}; "
                        "set ansible_python_interpreter to egov's .venv/bin/python", egov_status="failed")
    action = "plan" if m.check_mode and p["action"] in ("apply", "rollback") else p["action"]
    t = Target(host=p["address"], driver=p["driver"], address=p["address"], username=p["username"],
               port=p["port"], key_file=p["key_file"], password=p["password"], optional_args=p["optional_args"],
               transport=p["transport"], netmiko_device_type=p["netmiko_device_type"])
    try:
        res = run_action(action, t, config=read_text(p["config_file"]), expect=p["expect"],
                         revert_in=p["revert_in"], journal=p["journal"], secrets=p["secrets"],
                         change_id=p["change_id"], verify_wait=p["verify_wait"], commands=p["commands"],
                         accept_unchecked=p["accept_unchecked"])
    except ValueError as exc:  # an unknown action, transport or check name: refused before any device work
        m.fail_json(msg=str(exc), egov_status="failed")
    out = dict(changed=res["changed"], egov_status=res["status"], diff_text=res["diff"], msg=res["msg"],
               egov_unchecked=res.get("unchecked", []))
    for key in ("config", "output"):
        if key in res:
            out[key] = res[key]
    if res["status"] in ("failed", "unreachable", "not_checked"):
        m.fail_json(**out)
    m.exit_json(**out)


if __name__ == "__main__":
    main()
