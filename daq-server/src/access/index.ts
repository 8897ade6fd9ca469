export { AccessControl, OPERATOR, PUBLIC, principalOf, type Principal } from './principal.js';
export { readUsersFile, type UserEntry } from './users-file.js';
export { canAdminister, canRead, canWrite, defaultRelease, EMBARGO_YEARS, isMember, isReleased, isStaffOf, type ProposalFacts } from './policy.js';
