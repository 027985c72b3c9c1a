/**
 * The facts-host error catalogue: one factory per code, each message says what was wrong and what
 * to do about it.
 */
import { TrellisError } from '@trellis/core/api';

export const FactsHostErrorCode = {
  OS_RELEASE_UNREADABLE: 'TRELLIS_ERR_FACTS_HOST_OS_RELEASE_UNREADABLE',
  OS_RELEASE_MALFORMED: 'TRELLIS_ERR_FACTS_HOST_OS_RELEASE_MALFORMED',
  INVALID_CONFIG: 'TRELLIS_ERR_FACTS_HOST_INVALID_CONFIG',
} as const;
export type FactsHostErrorCode = (typeof FactsHostErrorCode)[keyof typeof FactsHostErrorCode];

export const factsHostErrors = {
  osReleaseUnreadable: (paths: string[], why: string) =>
    new TrellisError(
      FactsHostErrorCode.OS_RELEASE_UNREADABLE,
      `cannot read os-release at ${paths.join(' or ')} (${why}); point the facts-host osReleasePath setting at the host's os-release file`,
      { paths },
    ),
  osReleaseMalformed: (path: string, line: number, what: string) =>
    new TrellisError(
      FactsHostErrorCode.OS_RELEASE_MALFORMED,
      `${path}:${line}: ${what}; fix the file (see os-release(5)) or point osReleasePath at a valid one`,
      { path, line },
    ),
  invalidConfig: (what: string) =>
    new TrellisError(FactsHostErrorCode.INVALID_CONFIG, `facts-host config: ${what}`),
};
