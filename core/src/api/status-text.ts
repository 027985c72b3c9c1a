/**
 * A plugin's part of `trellis status`. The agent asks each registered source when its status is
 * read and carries the text in AgentStatus.statusText, so the CLI prints it without loading any
 * plugin and core knows nothing of what the text says.
 */
import type { PostureDecision } from './hooks';

/**
 * Where the text goes: 'posture' stands in for core's posture lines under the node block (the
 * plugin that decides posture shows its decision in its own detail); 'end' follows the peer table.
 */
export type StatusPlace = 'posture' | 'end';

export interface StatusText {
  place: StatusPlace;
  /** Printed as it is: whole lines, each ending with a newline. */
  text: string;
}

/** What a source sees of the agent when it renders. */
export interface StatusTextContext {
  /** The agent's last posture decision (the first evaluatePosture that answered); null before one. */
  posture: PostureDecision | null;
}

/** StatusTextSource renders its text now; null leaves nothing in `trellis status`. */
export type StatusTextSource = (context: StatusTextContext) => Promise<StatusText | null> | StatusText | null;
