/** A portcullis: the gate that drops in front of the castle's door. */
export function Logo({ className }: { className?: string }) {
  return (
    <svg
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      aria-hidden
      className={className}
    >
      <path d="M4 21V6a8 8 0 0 1 16 0v15" strokeLinecap="round" />
      <path d="M8 9v12M12 7v14M16 9v12M4 12h16M4 17h16" strokeLinecap="round" />
    </svg>
  );
}
