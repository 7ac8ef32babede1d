// A misconfiguration in parts: the object it is about, what is wrong, and the fix. The source and
// the sink throw the first one they find as a ConfigError ("<message>: <fix>"); `vecrelay plan`
// collects all of them into its report. Both call the same check functions.
import { ConfigError } from './errors.js';

export interface Problem {
  /** What it is about: a setting, a role, a table, a slot... */
  object: string;
  message: string;
  fix: string;
}

/** A ConfigError that keeps its parts, so a report can show the fix apart from the message. */
export class ProblemError extends ConfigError {
  readonly problem: Problem;
  constructor(problem: Problem, options: { cause?: unknown } = {}) {
    super(`${problem.message}: ${problem.fix}`, options);
    this.problem = problem;
  }
}

/** Throws the first problem, if any. */
export function throwFirst(...problems: Array<Problem | undefined>): void {
  const first = problems.find((p) => p !== undefined);
  if (first) throw new ProblemError(first);
}
