// Type-checked (never run) by types.test.mjs: `tsc -p test/tsconfig.json`. It uses every
// method and payload through the package's own name, so it also checks package.json's
// "exports"/"types". `@ts-expect-error` lines must fail to compile: the declarations are strict.

import voicetk, {
  connect,
  EVENT_TYPES,
  lwcName,
  readAudioStats,
  telephonyType,
  VoicetkClient,
  VoicetkError,
  type AnyTelephonyPayload,
  type CallActions,
  type CurrentCall,
  type TelephonyCustomEvent,
  type TelephonyPayload,
  type VoiceToolkitApiElement,
} from 'voicetk-client';

export async function sample(): Promise<void> {
  const api: VoicetkClient = await connect({
    url: 'http://127.0.0.1:8080',
    token: 'secret',
    agent: 'ana',
    reconnect: { baseMs: 250, maxMs: 10_000 },
  });
  const same: VoicetkClient = await voicetk.connect({ after: 10 });
  await same.close();

  // Aura style: the payload is typed by the event name, under either naming.
  api.addTelephonyEventListener('CALL_STARTED', (p) => {
    const t: 'CALL_STARTED' = p.type;
    const direction: 'inbound' | 'outbound' = p.detail.callType;
    const who: string = p.detail.participant;
    const seq: number = p.seq;
    const at: string = p.timestamp;
    const agent: string | undefined = p.agent;
    const replayed: true | undefined = p.replayed;
    const warnings: readonly string[] | undefined = p.warnings;
    void [t, direction, who, seq, at, agent, replayed, warnings];
  });
  api.addTelephonyEventListener('audiostats', (p) => {
    const channel: 'inputChannelStats' | 'outputChannelStats' = p.detail.stats;
    const numbers: number[] = [
      p.detail.packetsLost,
      p.detail.packetsCount,
      p.detail.jitterBufferMillis,
      p.detail.roundTripTimeMillis,
      p.detail.statsCount,
    ];
    const mos: number | undefined = p.detail.mos;
    void [channel, numbers, mos];
  });
  const onConnected = (p: TelephonyPayload<'CALL_CONNECTED'>) => {
    const attributes: Readonly<Record<string, unknown>> | undefined = p.detail.callAttributes;
    void attributes;
  };
  api.addTelephonyEventListener('CALL_CONNECTED', onConnected);
  api.removeTelephonyEventListener('callconnected', onConnected);
  api.addTelephonyEventListener('HOLD', (p) => void p.detail.participant);
  api.addTelephonyEventListener('RESUME', (p) => void p.detail.participant);
  api.addTelephonyEventListener('PARTICIPANT_ADDED', (p) => void p.detail.participant);
  api.addTelephonyEventListener('PARTICIPANT_REMOVED', (p) => void p.detail.participant);
  for (const t of ['CALL_ENDED', 'MUTE', 'UNMUTE', 'CONFERENCE', 'SWAP', 'PAUSE_RECORDING', 'RESUME_RECORDING', 'WRAP_UP_ENDED'] as const) {
    api.addTelephonyEventListener(t, (p) => void p.detail.callId);
  }
  // @ts-expect-error HOLD has no callType
  api.addTelephonyEventListener('HOLD', (p) => p.detail.callType.length);
  // @ts-expect-error not an event type
  api.addTelephonyEventListener('CALL_STARTS', () => {});
  // @ts-expect-error payloads are read-only
  api.addTelephonyEventListener('MUTE', (p) => { p.seq = 1; });

  // LWC style: a CustomEvent, detail = the payload's detail.
  api.addEventListener('callstarted', (e) => {
    const ev: TelephonyCustomEvent<'CALL_STARTED'> = e;
    const callId: string = e.detail.callId;
    const seq: number = e.payload.seq;
    void [ev, callId, seq];
  });
  api.addEventListener('HOLD', (e) => void e.detail.participant);
  api.addEventListener('connected', (e) => void e.detail.lastSeq);
  api.addEventListener('disconnected', (e) => void [e.detail.code, e.detail.reason, e.detail.lastSeq]);
  api.addEventListener('error', (e) => {
    e.preventDefault();
    void [e.detail.error, e.detail.source];
  });
  // @ts-expect-error not an event name
  api.addEventListener('callstrated', () => {});

  // Actions on the current call.
  const muted = await api.mute();
  if ('type' in muted) {
    const t: 'MUTE' = muted.type;
    void t;
  }
  await api.unmute();
  await api.hold('Initial_Caller');
  await api.resume('Third_Party');
  await api.acceptCall();
  await api.declineCall();
  await api.endCall();
  await api.endCall('Third_Party');
  await api.pauseRecording();
  await api.resumeRecording();
  await api.merge();
  await api.swap();
  await api.addParticipant('PhoneNumber', '+1 415 555 0199', false);
  const digits: { readonly seq: null } = await api.sendDigits('123#');
  const dialed = await api.startPreviewCall('+1 415 555 0100');
  void [digits, dialed];
  // @ts-expect-error not a participantType
  await api.hold('Supervisor');

  // The same actions on a given call, current or not.
  const other: CallActions = api.forCall('call-42');
  const otherId: string = other.callId;
  const held = await other.hold('Initial_Caller');
  if ('type' in held) {
    const t: 'HOLD' = held.type;
    const who: string = held.detail.participant;
    void [t, who];
  }
  await other.unmute();
  await other.endCall('Third_Party');
  await other.addParticipant('PhoneNumber', '+1 415 555 0199', true);
  const noEvent: { readonly seq: null } = await other.sendDigits('9');
  void [otherId, noEvent];
  // @ts-expect-error dialing is not an action on a call
  await other.startPreviewCall('+1 415 555 0100');
  // @ts-expect-error a call id is a string
  api.forCall(42);

  const call: CurrentCall | null = api.currentCall ?? api.getCurrentCall();
  if (call) {
    const state: 'ringing' | 'connected' = call.state;
    const onHold: boolean[] = call.participants.map((p) => p.onHold);
    void [state, onHold];
  }
  const lastSeq: number = api.lastSeq;
  const kind: 'partner' | 'native' = api.telephony;
  const state: 'connecting' | 'connected' | 'disconnected' | 'closed' = api.state;
  void [lastSeq, kind, state, api.calls];

  // Errors carry the server's code and status.
  try {
    await api.merge();
  } catch (e) {
    if (e instanceof VoicetkError) {
      const code: string = e.code;
      const status: number | undefined = e.status;
      void [code, status, e.path, e.message];
    }
  }

  // WebRTC helper.
  const pc = new RTCPeerConnection();
  const stop: () => void = api.publishAudioStats(pc, { callId: 'c1', intervalMs: 5000 });
  stop();
  const body = readAudioStats(await pc.getStats());
  void body?.inbound?.packetsReceived;

  // The element.
  const el: VoiceToolkitApiElement = document.createElement('voice-toolkit-api');
  el.setAttribute('agent', 'ana');
  el.addEventListener('callconnected', (e) => void e.detail.participant);
  el.addTelephonyEventListener('HOLD', (p) => void p.detail.participant);
  el.addEventListener('click', (e) => void e.clientX);
  const client: VoicetkClient = await el.ready;
  await el.hold('Initial_Caller');
  await el.forCall('call-42').mute();
  void client;

  // Catalogue helpers.
  const lwc: 'callstarted' = lwcName('CALL_STARTED');
  const aura = telephonyType('wrapupended');
  const all: readonly string[] = EVENT_TYPES;
  const any: AnyTelephonyPayload[] = [];
  for (const p of any) {
    if (p.type === 'AUDIO_STATS') void p.detail.packetsCount;
  }
  void [lwc, aura, all];
  await api.close();
}
