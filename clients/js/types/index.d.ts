// Type declarations of voicetk-client (src/index.js).
// The payloads follow spec/telephony-events.txt to the letter; the envelope fields are
// CONTRACT.md §1's "other system-generated information".

/// <reference lib="dom" />

// ----------------------------------------------------------------------------- event names

/** The 15 telephony event types, Aura names. */
export type TelephonyEventType =
  | 'AUDIO_STATS'
  | 'CALL_STARTED'
  | 'CALL_CONNECTED'
  | 'CALL_ENDED'
  | 'HOLD'
  | 'RESUME'
  | 'MUTE'
  | 'UNMUTE'
  | 'PARTICIPANT_ADDED'
  | 'PARTICIPANT_REMOVED'
  | 'CONFERENCE'
  | 'SWAP'
  | 'PAUSE_RECORDING'
  | 'RESUME_RECORDING'
  | 'WRAP_UP_ENDED';

/** The LWC name of each type: lower case, no underscores. */
export interface LwcNames {
  AUDIO_STATS: 'audiostats';
  CALL_STARTED: 'callstarted';
  CALL_CONNECTED: 'callconnected';
  CALL_ENDED: 'callended';
  HOLD: 'hold';
  RESUME: 'resume';
  MUTE: 'mute';
  UNMUTE: 'unmute';
  PARTICIPANT_ADDED: 'participantadded';
  PARTICIPANT_REMOVED: 'participantremoved';
  CONFERENCE: 'conference';
  SWAP: 'swap';
  PAUSE_RECORDING: 'pauserecording';
  RESUME_RECORDING: 'resumerecording';
  WRAP_UP_ENDED: 'wrapupended';
}

/** The 15 types, LWC names (`callstarted`, ...). */
export type LwcEventType = LwcNames[TelephonyEventType];

/** The Aura type an LWC name stands for. */
export type AuraOf<N extends LwcEventType> = {
  [T in TelephonyEventType]: LwcNames[T] extends N ? T : never;
}[TelephonyEventType];

/** Either naming of a type. */
export type AnyEventName = TelephonyEventType | LwcEventType;

/** The Aura type of either naming. */
export type TypeOf<N extends AnyEventName> = N extends TelephonyEventType
  ? N
  : N extends LwcEventType
    ? AuraOf<N>
    : never;

/** The types Salesforce Voice Native Telephony lacks. */
export type NativeUnsupportedType = 'AUDIO_STATS' | 'CALL_STARTED' | 'SWAP' | 'WRAP_UP_ENDED';

/** `partner` (all 15 events) or `native` (no AUDIO_STATS, CALL_STARTED, SWAP, WRAP_UP_ENDED). */
export type TelephonyKind = 'partner' | 'native';

// --------------------------------------------------------------------------------- details

/** `callType`: the call's direction. */
export type CallType = 'inbound' | 'outbound';

/** Every detail has the call's id; sources may add fields, delivered unchanged. */
export interface CallDetail {
  /** Unique call identifier value. */
  callId: string;
  [extra: string]: unknown;
}

/** A detail naming a participant: a phone number or an Amazon Quick Connect name. */
export interface ParticipantDetail extends CallDetail {
  participant: string;
}

/** AUDIO_STATS: one channel's WebRTC statistics over one interval (30 s by default). */
export interface AudioStatsDetail extends CallDetail {
  /** `inputChannelStats`: what this side receives; `outputChannelStats`: what it sends. */
  stats: 'inputChannelStats' | 'outputChannelStats';
  /** Packets lost in the interval. */
  packetsLost: number;
  /** Packets in the interval. */
  packetsCount: number;
  /** Mean jitter buffer over the interval, whole milliseconds. */
  jitterBufferMillis: number;
  /** Mean round-trip time over the interval, whole milliseconds. */
  roundTripTimeMillis: number;
  /** How many raw samples the interval aggregated. */
  statsCount: number;
  /** voicetk's E-model MOS estimate for the interval (1.0–4.5); absent without packets. */
  mos?: number;
}

/** CALL_STARTED and CALL_CONNECTED. */
export interface CallStartedDetail extends CallDetail {
  callType: CallType;
  /** Phone number. */
  participant: string;
}

/** CALL_CONNECTED: as CALL_STARTED, plus the provider's call attributes when it gives them. */
export interface CallConnectedDetail extends CallStartedDetail {
  /** Additional call attributes from the telephony provider; their shape varies by provider. */
  callAttributes?: Record<string, unknown>;
}

/** The `detail` of each type. */
export interface DetailMap {
  AUDIO_STATS: AudioStatsDetail;
  CALL_STARTED: CallStartedDetail;
  CALL_CONNECTED: CallConnectedDetail;
  CALL_ENDED: CallDetail;
  HOLD: ParticipantDetail;
  RESUME: ParticipantDetail;
  MUTE: CallDetail;
  UNMUTE: CallDetail;
  PARTICIPANT_ADDED: ParticipantDetail;
  PARTICIPANT_REMOVED: ParticipantDetail;
  CONFERENCE: CallDetail;
  SWAP: CallDetail;
  PAUSE_RECORDING: CallDetail;
  RESUME_RECORDING: CallDetail;
  WRAP_UP_ENDED: CallDetail;
}

// -------------------------------------------------------------------------------- payloads

/** A delivered telephony event: the spec's `{type, detail}` plus voicetk's envelope fields. */
export interface TelephonyPayload<T extends TelephonyEventType = TelephonyEventType> {
  readonly type: T;
  readonly detail: Readonly<DetailMap[T]>;
  /** Position in voicetk's log: strictly increasing, gap-free. */
  readonly seq: number;
  /** When voicetk accepted it (RFC 3339, UTC). */
  readonly timestamp: string;
  /** The agent whose desktop the call belongs to, when known. */
  readonly agent?: string;
  /** Present (true) on the replay of calls in progress a new subscriber gets first. */
  readonly replayed?: true;
  /** Lenient mode: why the call model would have refused it. */
  readonly warnings?: readonly string[];
  /** The source's id for the event (idempotency), when it gave one. */
  readonly eventId?: string;
}

/** Any one of the 15 payloads, discriminated by `type`. */
export type AnyTelephonyPayload = { [T in TelephonyEventType]: TelephonyPayload<T> }[TelephonyEventType];

/** `fn(payload)` of addTelephonyEventListener. */
export type TelephonyEventListener<T extends TelephonyEventType = TelephonyEventType> = (
  payload: TelephonyPayload<T>,
) => void;

/**
 * What LWC-style listeners get: a CustomEvent named with the LWC name, `detail` = the
 * payload's detail (as Salesforce's toolkit component gives it), `payload` = the whole payload.
 */
export interface TelephonyCustomEvent<T extends TelephonyEventType = TelephonyEventType>
  extends CustomEvent<Readonly<DetailMap[T]>> {
  readonly type: LwcNames[T];
  readonly payload: TelephonyPayload<T>;
}

/** `detail` of `connected`. */
export interface ConnectedDetail {
  /** The resume point at (re)connection. */
  lastSeq: number;
}

/** `detail` of `disconnected`: the WebSocket close, then the client reconnects by itself. */
export interface DisconnectedDetail {
  /** 1001 server shutting down, 4008 slow consumer, 4011 delivery failed, 1006 dropped, ... */
  code: number;
  reason: string;
  lastSeq: number;
}

/** `detail` of `error` (cancelable: preventDefault() stops the console.error report). */
export interface ErrorDetail {
  error: unknown;
  /** What failed: a listener, the connection, or publishAudioStats. */
  source: 'listener' | 'connection' | 'publishAudioStats';
  /** The listener's event type, for `listener`. */
  type?: string;
}

/** The client's own events. */
export interface ClientEventMap {
  connected: CustomEvent<ConnectedDetail>;
  disconnected: CustomEvent<DisconnectedDetail>;
  closed: CustomEvent<ConnectedDetail>;
  error: CustomEvent<ErrorDetail>;
}

/** Every event name addEventListener takes, and what its listener gets. */
export type VoicetkEventMap = ClientEventMap & {
  [N in AnyEventName]: TelephonyCustomEvent<TypeOf<N>>;
};

// ------------------------------------------------------------------------------ the client

/** `participantType` of hold, resume and endCall. */
export type ParticipantType = 'Initial_Caller' | 'Third_Party' | 'Agent';

/** Options of `connect()`. */
export interface ConnectOptions {
  /** The voicetk server, e.g. `http://127.0.0.1:8080`. Default: the page's origin. */
  url?: string | URL;
  /** A bearer token (Authorization header; `?access_token=` on the WebSocket). */
  token?: string;
  /** Follow this agent's calls only. Default: every call the token may see. */
  agent?: string;
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (Node 20: --experimental-websocket). */
  WebSocket?: new (url: string) => WebSocket;
  /** The fetch function. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Reconnect back-off: waits of `min(maxMs, baseMs·2^n)`, jittered down to half. Default 500 / 30000. */
  reconnect?: { baseMs?: number; maxMs?: number };
  /** Resume after this seq instead of starting with the replay of calls in progress. */
  after?: number;
  /** How long connect() may take before it rejects. Default 15000. */
  connectTimeoutMs?: number;
  /** How long an action waits for its confirming event on the socket before reading the log. Default 10000. */
  confirmTimeoutMs?: number;
  /** Drop and reconnect a socket that received nothing for this long (pinged at a third). Default 45000. */
  idleTimeoutMs?: number;
  /** Bound of every HTTP request. Default 30000. */
  requestTimeoutMs?: number;
}

/** The agent's call as the client tracks it from events. */
export interface CurrentCall {
  readonly callId: string;
  readonly callType: CallType | null;
  /** The initial caller's number. */
  readonly participant: string | null;
  readonly state: 'ringing' | 'connected';
  readonly agent: string | null;
  readonly muted: boolean;
  readonly recording: 'active' | 'paused';
  readonly callAttributes: Readonly<Record<string, unknown>> | null;
  readonly participants: ReadonlyArray<{
    readonly participant: string;
    readonly role: 'initialCaller' | 'thirdParty';
    readonly onHold: boolean;
  }>;
  /** The seq of the first and of the latest event of the call the client saw. */
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** What send-digits resolves with: no event reports DTMF. */
export interface NoEvent {
  readonly seq: null;
}

/** An action's result when its event could be read neither on the socket nor from the log. */
export interface SeqOnly {
  readonly seq: number;
}

/** Options of publishAudioStats. */
export interface AudioStatsOptions {
  /** The call the samples belong to. Default: the current call at each sample. */
  callId?: string;
  /** Sampling period. Default 5000. */
  intervalMs?: number;
}

/** The body publishAudioStats posts: W3C RTCStats names and units (seconds), cumulative counters. */
export interface AudioSample {
  inbound?: { packetsReceived: number; packetsLost: number; jitter?: number };
  outbound?: { packetsSent: number };
  remoteInbound?: { packetsLost?: number; jitter?: number; roundTripTime?: number };
}

/**
 * The call actions. On the client (and the element) they act on the current call; on
 * `forCall(callId)`'s object, on that call. Each resolves with the payload of the event that
 * confirms it (once the listeners had it), and rejects with a VoicetkError carrying the
 * server's code and status (`409 invalid_transition`, `404 unknown_call`, `422`, `501`, `504`).
 */
export interface CallActionMethods {
  /** MUTE the agent. */
  mute(): Promise<TelephonyPayload<'MUTE'> | SeqOnly>;
  /** UNMUTE the agent. */
  unmute(): Promise<TelephonyPayload<'UNMUTE'> | SeqOnly>;
  /** HOLD a participant. */
  hold(participantType: ParticipantType): Promise<TelephonyPayload<'HOLD'> | SeqOnly>;
  /** RESUME a participant. */
  resume(participantType: ParticipantType): Promise<TelephonyPayload<'RESUME'> | SeqOnly>;
  /** Answer the ringing call. */
  acceptCall(): Promise<TelephonyPayload<'CALL_CONNECTED'> | SeqOnly>;
  /** Decline the ringing call. */
  declineCall(): Promise<TelephonyPayload<'CALL_ENDED'> | SeqOnly>;
  /** End the call, or with `Third_Party` drop the third party. */
  endCall(participantType?: ParticipantType): Promise<TelephonyPayload<'CALL_ENDED' | 'PARTICIPANT_REMOVED'> | SeqOnly>;
  pauseRecording(): Promise<TelephonyPayload<'PAUSE_RECORDING'> | SeqOnly>;
  resumeRecording(): Promise<TelephonyPayload<'RESUME_RECORDING'> | SeqOnly>;
  /** Take everyone off hold (CONFERENCE). */
  merge(): Promise<TelephonyPayload<'CONFERENCE'> | SeqOnly>;
  /** Swap which participant is on hold (SWAP). */
  swap(): Promise<TelephonyPayload<'SWAP'> | SeqOnly>;
  /** Add a participant (`contactType` e.g. `PhoneNumber`). */
  addParticipant(
    contactType: string,
    contactValue: string,
    isBlindTransfer: boolean,
  ): Promise<TelephonyPayload<'PARTICIPANT_ADDED'> | SeqOnly>;
  /** Send DTMF digits (0-9, *, #, ","). */
  sendDigits(digits: string): Promise<NoEvent>;
}

/** The call actions bound to one call: what `forCall(callId)` returns. */
export interface CallActions extends CallActionMethods {
  /** The call they act on. */
  readonly callId: string;
}

/** The Voice Toolkit API methods shared by the client and the custom element. */
export interface VoiceToolkitApi extends CallActionMethods {
  /** Aura style: `fn(payload)`. Throws on an unknown name, and for Native telephony's missing types. */
  addTelephonyEventListener<N extends AnyEventName>(type: N, fn: TelephonyEventListener<TypeOf<N>>): void;
  /** Removes it; a function not registered is ignored. */
  removeTelephonyEventListener<N extends AnyEventName>(type: N, fn: TelephonyEventListener<TypeOf<N>>): void;

  /**
   * The same actions on the call `callId`, whether or not it is the current call (a console
   * of many calls). Throws a TypeError when `callId` is not a non-empty string; a call the
   * server does not know rejects with `404 unknown_call`.
   */
  forCall(callId: string): CallActions;
  /** Place an outbound call; it becomes the current call. */
  startPreviewCall(phoneNumber: string): Promise<TelephonyPayload<'CALL_STARTED' | 'CALL_CONNECTED'> | SeqOnly>;

  /** Sample a peer connection's audio statistics into AUDIO_STATS. Returns a stop function. */
  publishAudioStats(peerConnection: Pick<RTCPeerConnection, 'getStats'>, options?: AudioStatsOptions): () => void;

  /** The agent's current call (the newest one not ended), or null. */
  readonly currentCall: CurrentCall | null;
  getCurrentCall(): CurrentCall | null;
}

/** A connection to voicetk. Made by `connect()`. */
export declare class VoicetkClient extends EventTarget implements VoiceToolkitApi {
  /** Validates the options only; use `connect()`. */
  constructor(options?: ConnectOptions);
  /** Connects and resolves once subscribed. */
  static connect(options?: ConnectOptions): Promise<VoicetkClient>;

  readonly state: 'connecting' | 'connected' | 'disconnected' | 'closed';
  /** The last seq delivered (or acknowledged by the server): where a reconnect resumes. */
  readonly lastSeq: number;
  readonly telephony: TelephonyKind;
  readonly agent: string | null;
  readonly url: string;
  readonly currentCall: CurrentCall | null;
  getCurrentCall(): CurrentCall | null;
  /** Every call of the agent not ended, oldest first. */
  readonly calls: readonly CurrentCall[];

  addTelephonyEventListener<N extends AnyEventName>(type: N, fn: TelephonyEventListener<TypeOf<N>>): void;
  removeTelephonyEventListener<N extends AnyEventName>(type: N, fn: TelephonyEventListener<TypeOf<N>>): void;

  /** LWC style; either naming; also connected, disconnected, closed, error. */
  addEventListener<K extends keyof VoicetkEventMap>(
    type: K,
    listener: (this: VoicetkClient, event: VoicetkEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: keyof VoicetkEventMap,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof VoicetkEventMap>(
    type: K,
    listener: (this: VoicetkClient, event: VoicetkEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: keyof VoicetkEventMap,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;

  mute(): Promise<TelephonyPayload<'MUTE'> | SeqOnly>;
  unmute(): Promise<TelephonyPayload<'UNMUTE'> | SeqOnly>;
  hold(participantType: ParticipantType): Promise<TelephonyPayload<'HOLD'> | SeqOnly>;
  resume(participantType: ParticipantType): Promise<TelephonyPayload<'RESUME'> | SeqOnly>;
  acceptCall(): Promise<TelephonyPayload<'CALL_CONNECTED'> | SeqOnly>;
  declineCall(): Promise<TelephonyPayload<'CALL_ENDED'> | SeqOnly>;
  endCall(participantType?: ParticipantType): Promise<TelephonyPayload<'CALL_ENDED' | 'PARTICIPANT_REMOVED'> | SeqOnly>;
  pauseRecording(): Promise<TelephonyPayload<'PAUSE_RECORDING'> | SeqOnly>;
  resumeRecording(): Promise<TelephonyPayload<'RESUME_RECORDING'> | SeqOnly>;
  merge(): Promise<TelephonyPayload<'CONFERENCE'> | SeqOnly>;
  swap(): Promise<TelephonyPayload<'SWAP'> | SeqOnly>;
  addParticipant(
    contactType: string,
    contactValue: string,
    isBlindTransfer: boolean,
  ): Promise<TelephonyPayload<'PARTICIPANT_ADDED'> | SeqOnly>;
  sendDigits(digits: string): Promise<NoEvent>;
  /** The same actions on the call `callId`, current or not. */
  forCall(callId: string): CallActions;
  startPreviewCall(phoneNumber: string): Promise<TelephonyPayload<'CALL_STARTED' | 'CALL_CONNECTED'> | SeqOnly>;
  publishAudioStats(peerConnection: Pick<RTCPeerConnection, 'getStats'>, options?: AudioStatsOptions): () => void;

  /** Closes for good: no more events, no reconnect; pending actions reject with code `closed`. */
  close(): Promise<void>;
}

/** Connects to voicetk and resolves once the WebSocket is subscribed. */
export declare function connect(options?: ConnectOptions): Promise<VoicetkClient>;

/** Error codes the client itself uses, beside the server's (`invalid_transition`, ...). */
export type ClientErrorCode =
  | 'no_current_call'
  | 'unreachable'
  | 'timeout'
  | 'closed'
  | 'bad_response'
  | 'missing_field'
  | 'invalid_value';

/** An error from voicetk (its code, status and message) or from the client. */
export declare class VoicetkError extends Error {
  constructor(code: string, message: string, extra?: { status?: number; path?: string; cause?: unknown });
  readonly name: 'VoicetkError';
  /** The server's error code (`invalid_transition`, `not_implemented`, ...) or a ClientErrorCode. */
  readonly code: ClientErrorCode | (string & {});
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The JSON path of the bad field, when one was named. */
  readonly path?: string;
}

/** `<voice-toolkit-api url token agent>`: the client as a custom element. */
export interface VoiceToolkitApiElement extends HTMLElement, VoiceToolkitApi {
  /** Resolves with the connected client (waits while the element is not in the document). */
  readonly ready: Promise<VoicetkClient>;
  /** The connected client, or null. */
  readonly api: VoicetkClient | null;
  readonly state: VoicetkClient['state'];
  readonly lastSeq: number;
  readonly telephony: TelephonyKind | null;

  addEventListener<K extends keyof VoicetkEventMap>(
    type: K,
    listener: (this: VoiceToolkitApiElement, event: VoicetkEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener<K extends keyof HTMLElementEventMap>(
    type: K,
    listener: (this: VoiceToolkitApiElement, event: HTMLElementEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof VoicetkEventMap>(
    type: K,
    listener: (this: VoiceToolkitApiElement, event: VoicetkEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** Defines the element (default name `voice-toolkit-api`) where custom elements exist; null elsewhere. */
export declare function defineVoiceToolkitElement(
  name?: string,
): (new () => VoiceToolkitApiElement) | null;

/** The 15 types, Aura names, catalogue order. */
export declare const EVENT_TYPES: readonly TelephonyEventType[];
/** AUDIO_STATS, CALL_STARTED, SWAP, WRAP_UP_ENDED. */
export declare const NATIVE_UNSUPPORTED: readonly NativeUnsupportedType[];
/** `CALL_STARTED` → `callstarted`. */
export declare function lwcName<T extends TelephonyEventType>(type: T): LwcNames[T];
/** The Aura name of either naming, or null. */
export declare function telephonyType(name: string): TelephonyEventType | null;
/** The audio entries of a getStats() report voicetk reads, or null. */
export declare function readAudioStats(report: RTCStatsReport | Map<string, unknown>): AudioSample | null;

declare const voicetk: {
  connect: typeof connect;
  VoicetkClient: typeof VoicetkClient;
  VoicetkError: typeof VoicetkError;
  EVENT_TYPES: typeof EVENT_TYPES;
  NATIVE_UNSUPPORTED: typeof NATIVE_UNSUPPORTED;
  lwcName: typeof lwcName;
  telephonyType: typeof telephonyType;
  readAudioStats: typeof readAudioStats;
  defineVoiceToolkitElement: typeof defineVoiceToolkitElement;
};
export default voicetk;

declare global {
  interface HTMLElementTagNameMap {
    'voice-toolkit-api': VoiceToolkitApiElement;
  }
}
