/**
 * Children. The privacy policy promises that a child's data is deleted; a request about a child is
 * marked at intake (`child: true`, or an `age` under CHILD_AGE, 14 by default as the policy says),
 * and then: a child's erasure waits for no approval and reaches every configured system (a task
 * for a person where no connector can erase), the request is due internally CHILD_DUE_DAYS after
 * receipt (never later than the legal deadline), it leads the deadline report, and its receipt
 * says that it was a child's. Only the mark is kept, never the age.
 */
export interface ChildPolicy { age: number, dueDays: number }

const DAY_MS = 86_400_000

/** Whether the request is about a child; a message when the flag and the age disagree. */
export function childAtIntake (input: { child?: boolean | undefined, age?: number | undefined }, policy: ChildPolicy): { child: boolean, problem: string | null } {
  const byAge = input.age === undefined ? null : input.age < policy.age
  if (input.child === false && byAge === true) {
    return { child: false, problem: `says not a child, but an age of ${input.age} is under CHILD_AGE (${policy.age})` }
  }
  return { child: input.child === true || byAge === true, problem: null }
}

/** A child's internal due date: CHILD_DUE_DAYS after receipt, or the legal deadline if that is sooner. */
export function childDueAt (receivedAt: Date, dueAt: Date, policy: ChildPolicy): Date {
  return new Date(Math.min(receivedAt.getTime() + policy.dueDays * DAY_MS, dueAt.getTime()))
}
