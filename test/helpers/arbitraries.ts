import fc from 'fast-check';

/** Strings an attacker or a confused caller might pass: traversal, separators, control characters, huge. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom(
      '',
      '.',
      '..',
      '../x',
      '../../etc/passwd',
      'a/b',
      '/abs',
      'a;b=c',
      'IgnoreUnknown=1;IP=1.2.3.4',
      'eth0:1',
      'x y',
      'x\ty',
      'x\ny',
      'x\u0000y',
      '-rf',
      '--help',
      '$(reboot)',
      '`id`',
      '10.88.0.5',
      'fd00::5',
      '02:42:ac:11:00:02',
      '{}',
      '{"aliases":{"n":["a"]}}',
      '[]',
      'null',
      'podman',
      'eth0',
      'a'.repeat(300),
      'é',
      '\u202e',
    ),
    fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/),
    fc.string({ minLength: 120, maxLength: 2000 }),
  );
}
