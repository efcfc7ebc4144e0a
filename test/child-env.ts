/**
 * Set in the environment of every process a test starts (the service run through tsx, a CLI, Prism).
 * tap instruments child processes for coverage too; a child transpiled by tsx reports the same source
 * files with other source maps than the test process, and merging the two broke the whole report (it
 * kept two files). Coverage comes from the test processes; the children are checked by what they do.
 */
export const NO_CHILD_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: '0' } as const
