/** Every error answer of the controller and the agent: the catalogued code and its message. */
export interface ErrorBody {
  error: { code: string; message: string };
}
