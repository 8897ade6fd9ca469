export { AccessControl, OPERATOR, PUBLIC, principalOf, type Principal } from './principal.js';
export { readUsersFile, type UserEntry } from './users-file.js';
export { canAdminister, canRead, canWrite, defaultRelease, EMBARGO_YEARS, isMember, isReleased, isStaffOf, type ProposalFacts } from './policy.js';
export { forwardedPrincipal, forwardedUser, MIN_SECRET, SECRET_HEADER, USER_HEADER } from './forwarded.js';
export { proposalFolderOf, proposalOfPath } from './paths.js';
