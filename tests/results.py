"""The pass/fail tally the Python test scripts share: each check prints
`FAIL name: detail` when it fails; finish() prints the counts and returns the
script's exit status."""


class Results:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, name, ok, detail=''):
        """Counts one check; returns ok."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print('FAIL %s: %s' % (name, detail), flush=True)
        return ok

    def finish(self):
        print('%d passed, %d failed' % (self.passed, self.failed))
        return 1 if self.failed else 0
