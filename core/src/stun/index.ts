/** stun: RFC 8489 message codec, the binding server's answers, the binding client and NAT classification. */
export { answerBindingRequest } from './binding-responder';
export type { BindingAnswer, BindingOutcome } from './binding-responder';
export { classifyNat } from './nat-classification';
export { probeNat, splitServer } from './nat-probe';
export type { NatProbeAnswerView, NatProbeOptions, NatProbeResult } from './nat-probe';
export type { NatClassification, NatProbeAnswer, NatType } from './nat-classification';
export {
  decodeMappedAddress,
  decodeXorMappedAddress,
  encodeMappedAddress,
  encodeXorMappedAddress,
  sameTransportAddress,
  toTransportAddress,
  transportAddressText,
} from './stun-address';
export type { TransportAddress } from './stun-address';
export { bindingRequest, readBindingResponse, stunBinding, udpStunTransport } from './stun-binding';
export type { BindingRequest, BindingResponse, StunBindingOptions, StunBindingResult, StunTransport } from './stun-binding';
export {
  KNOWN_ATTRIBUTES,
  STUN_MAGIC_COOKIE,
  StunAttr,
  StunClass,
  StunMethod,
  attribute,
  encodeStunMessage,
  looksLikeStun,
  parseStunMessage,
  verifyMessageIntegrity,
} from './stun-message';
export type { StunAttribute, StunMessage, StunParseResult } from './stun-message';
