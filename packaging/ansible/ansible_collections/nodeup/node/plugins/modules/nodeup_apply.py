#!/usr/bin/python3
# -*- coding: utf-8 -*-
# nodeup_apply: converge a node with nodeup and report what nodeup's JSON says.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: nodeup_apply
short_description: Converge a node with nodeup (C(nodeup apply --json --wait))
description:
  - Runs C(nodeup apply PROFILE --json --wait) and builds the task result from nodeup's one
    JSON document (docs/json.md in nodeup's sources).
  - C(changed) is true when any step created, updated or deleted something; the task fails
    when nodeup exits 1, with nodeup's first error as C(msg) and its diagnostics.
  - The verification nodeup ran after the apply is returned as C(verify).
  - In check mode it runs C(nodeup plan PROFILE --json) instead and reports what would
    change, touching nothing; in diff mode it returns the plan's (or the apply's) file diffs.
options:
  profile:
    description: The profile, a file or a directory of C(*.hcl) files (its C(*.auto.vars.hcl) are read).
    type: path
    default: /etc/nodeup/profile.d
  binary:
    description: The nodeup executable, a path or a name on C(PATH).
    type: str
    default: nodeup
  wait:
    description: Queue behind another apply (C(--wait)) instead of failing at once.
    type: bool
    default: true
  var_files:
    description: More variable files on the node (C(--var-file)), read after the profile's C(*.auto.vars.hcl).
    type: list
    elements: path
    default: []
  phase:
    description: C(all), C(bake) or C(boot); nodeup's default when unset.
    type: str
    choices: [all, bake, boot]
  extra_args:
    description: Further flags for both apply and plan (e.g. C(--allow-downgrade)).
    type: list
    elements: str
    default: []
author: nodeup
'''

EXAMPLES = r'''
- name: Converge the node from its profile directory
  nodeup.node.nodeup_apply:
    profile: /etc/nodeup/profile.d
  register: nodeup

- ansible.builtin.debug:
    var: nodeup.verify
'''

RETURN = r'''
summary:
  description: nodeup's counts (create, update, delete, unchanged, skipped, failed).
  type: dict
  returned: when nodeup got as far as a plan
changes:
  description: The steps that changed (apply) or would change (check mode), as "ACTION ID (REASON)".
  type: list
  returned: always
verify:
  description: The verification (C(ok), C(checks)) the apply ran.
  type: dict
  returned: when one ran
diagnostics:
  description: The profile's errors and warnings.
  type: list
  returned: always
steps:
  description: Every step of nodeup's document (without diffs).
  type: list
  returned: always
seconds:
  description: How long the apply took.
  type: float
  returned: apply
rc:
  description: nodeup's exit code.
  type: int
  returned: always
stderr:
  description: nodeup's log (stderr).
  type: str
  returned: always
'''

import json

from ansible.module_utils.basic import AnsibleModule

CHANGING = ('create', 'update', 'delete')


def command_line(module, command):
    p = module.params
    args = [p['binary'], command, p['profile'], '--json']
    if command == 'apply' and p['wait']:
        args.append('--wait')
    for f in p['var_files']:
        args += ['--var-file', f]
    if p['phase']:
        args += ['--phase', p['phase']]
    return args + list(p['extra_args'])


def changed_steps(doc, applied):
    """The steps that changed something (apply: and finished ok) or would (plan)."""
    out = []
    for step in doc.get('steps') or []:
        if step.get('action') not in CHANGING:
            continue
        if applied and step.get('result') != 'ok':
            continue
        out.append(step)
    return out


def first_error(doc, stderr):
    """nodeup's first error, in the order its document gives them."""
    err = doc.get('error') or {}
    if err.get('message'):
        return err['message']
    for step in doc.get('steps') or []:
        if step.get('result') == 'failed':
            return '%s: %s' % (step.get('id'), step.get('error') or 'failed')
    verify = doc.get('verify') or {}
    if verify and not verify.get('ok', True):
        for check in verify.get('checks') or []:
            if not check.get('ok') and not check.get('skipped'):
                return 'verify %s: %s' % (check.get('name'), check.get('detail') or 'failed')
        return 'verification failed'
    for d in doc.get('diagnostics') or []:
        if d.get('severity') == 'error':
            where = '%s:%s: ' % (d['file'], d.get('line')) if d.get('file') else ''
            return '%s%s: %s' % (where, d.get('summary'), d.get('detail'))
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else 'nodeup failed'


def prepared_diff(steps):
    """Ansible's diff text: each changing step, then its unified diff when it has one."""
    parts = []
    for step in steps:
        head = '# %s %s' % (step.get('action'), step.get('id'))
        if step.get('reason'):
            head += ' (%s)' % step['reason']
        parts.append(head + '\n')
        if step.get('diff'):
            text = step['diff']
            parts.append(text if text.endswith('\n') else text + '\n')
    return ''.join(parts)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            profile=dict(type='path', default='/etc/nodeup/profile.d'),
            binary=dict(type='str', default='nodeup'),
            wait=dict(type='bool', default=True),
            var_files=dict(type='list', elements='path', default=[]),
            phase=dict(type='str', choices=['all', 'bake', 'boot']),
            extra_args=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    command = 'plan' if module.check_mode else 'apply'
    args = command_line(module, command)
    rc, stdout, stderr = module.run_command(args, check_rc=False)
    result = dict(changed=False, cmd=args, rc=rc, stderr=stderr)
    try:
        doc = json.loads(stdout)
        if not isinstance(doc, dict):
            raise ValueError('not a JSON object')
    except ValueError as e:
        module.fail_json(msg='nodeup %s did not print its JSON document (exit %d): %s; %s'
                         % (command, rc, e, first_error({}, stderr)), stdout=stdout, **result)

    steps = changed_steps(doc, applied=(command == 'apply'))
    result.update(
        changes=['%s %s%s' % (s.get('action'), s.get('id'), ' (%s)' % s['reason'] if s.get('reason') else '')
                 for s in steps],
        diagnostics=doc.get('diagnostics') or [],
        steps=[{k: v for k, v in s.items() if k != 'diff'} for s in doc.get('steps') or []],
    )
    for key in ('summary', 'verify', 'seconds', 'saved_plan'):
        if key in doc:
            result[key] = doc[key]
    if command == 'plan':
        result['changed'] = bool(doc.get('changes', steps))
    else:
        result['changed'] = bool(steps)
    if module._diff and steps:
        result['diff'] = dict(prepared=prepared_diff(steps))

    # Exit 2 only comes from plan --detailed-exitcode (pending changes), which is not failure.
    if rc == 1 or doc.get('ok') is False:
        module.fail_json(msg='nodeup %s failed: %s' % (command, first_error(doc, stderr)), **result)
    if command == 'apply':
        result['msg'] = 'applied: %d changed, verified' % len(steps) if doc.get('verify', {}).get('ok') \
            else 'applied: %d changed' % len(steps)
    else:
        result['msg'] = '%d steps would change' % len(steps)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
