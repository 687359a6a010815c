/**
 * Who does what in a synthetic meeting: W-meet-20 is 20 participants who all publish a camera
 * and a microphone, two of them talking; the audio room is 4 talking microphones and 250
 * listeners; the 100-person room has a few publishers and many who joined with camera and
 * microphone off.
 */
export interface Shape {
  participants: number;
  /** Participants 0 … publishers-1 publish; the others publish nothing (camera and mic off). */
  publishers: number;
  /** Publishers 0 … talkers-1 talk (audio level 25-45); the others send silence marked 127. */
  talkers: number;
  /** Publishers send the three camera layers as well as the microphone. */
  video: boolean;
  /** Participants 0 … sampled-1 measure loss and latency; the others only count packets. */
  sampled: number;
}

export function meetingShape(participants: number, sampled = 20): Shape {
  return {
    participants,
    publishers: participants,
    talkers: 2,
    video: true,
    sampled: Math.min(participants, sampled),
  };
}

/** What participant `i` does: whether it publishes and talks, and whose camera it puts on stage. */
export function role(shape: Shape, i: number) {
  const n = Math.max(1, shape.publishers);
  return {
    publishes: i < shape.publishers,
    talking: i < shape.talkers,
    sampled: i < shape.sampled,
    /** The next publisher in the ring (a listener: publisher `i mod publishers`); -1: no video. */
    stage: shape.video ? (i < shape.publishers ? (i + 1) % n : i % n) : -1,
  };
}

/** Streams a participant can receive: the other publishers' microphones and cameras. */
export function streamsFor(shape: Shape, i: number): { audio: number; video: number } {
  const others = shape.publishers - (i < shape.publishers ? 1 : 0);
  return { audio: others, video: shape.video ? others : 0 };
}
