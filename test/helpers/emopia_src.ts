// The `emopia` command from the sources (src/cli/main.ts, run with `node --import tsx`), for the tests: they never
// run a stale dist/ build. bin/emopia.js runs the compiled dist/ instead; test/package.test.ts checks that one.
import { main } from '../../src/cli/main.ts';

process.exitCode = await main(process.argv);
