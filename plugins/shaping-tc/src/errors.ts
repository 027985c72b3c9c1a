/**
 * The shaping-tc error catalogue: one code per failure, one factory per code, messages that name
 * what was wrong and what to do about it.
 */
import { TrellisError } from '@trellis/core/api';

export const ShapingErrorCode = {
  PROFILE_INVALID: 'TRELLIS_ERR_SHAPING_PROFILE_INVALID',
  CONFIG_INVALID: 'TRELLIS_ERR_SHAPING_CONFIG_INVALID',
  TC_FAILED: 'TRELLIS_ERR_SHAPING_TC_FAILED',
  TC_OUTPUT: 'TRELLIS_ERR_SHAPING_TC_OUTPUT',
} as const;
export type ShapingErrorCode = (typeof ShapingErrorCode)[keyof typeof ShapingErrorCode];

export const shapingErrors = {
  profileInvalid: (name: string, problems: string[]) =>
    new TrellisError(
      ShapingErrorCode.PROFILE_INVALID,
      `shaping profile "${name}" is invalid: ${problems.join('; ')}. Fix the profile; the shaping already in force stays`,
      { profile: name, problems },
    ),
  configInvalid: (what: string) =>
    new TrellisError(ShapingErrorCode.CONFIG_INVALID, `shaping-tc config is invalid: ${what}`),
  tcFailed: (cmd: string, stderr: string) =>
    new TrellisError(ShapingErrorCode.TC_FAILED, `\`${cmd}\` failed: ${stderr.trim() || 'no error text'}`, { cmd }),
  tcOutput: (cmd: string, what: string) =>
    new TrellisError(ShapingErrorCode.TC_OUTPUT, `cannot read the output of \`${cmd}\`: ${what}`, { cmd }),
};
