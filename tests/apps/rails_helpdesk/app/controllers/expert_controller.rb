class ExpertController < ApplicationController
  before_action :authenticate!
  before_action :require_expert!

  def queue
    render json: Conversation.queue_json(current_user, nil)
  end

  def claim
    conversation = Conversation.find(params[:conversation_id])
    Conversation.transaction do
      conversation.lock!
      if conversation.assigned_expert_id || conversation.status != "waiting"
        return render(json: { error: "Conversation is already assigned to an expert" }, status: :unprocessable_entity)
      end

      conversation.update!(assigned_expert_id: current_user.id, status: "active")
      ExpertAssignment.create!(conversation: conversation, expert: current_user, status: "active", assigned_at: Time.now.utc)
    end
    render json: { success: true }
  end

  def unclaim
    conversation = Conversation.find(params[:conversation_id])
    if conversation.assigned_expert_id != current_user.id
      return render(json: { error: "You are not assigned to this conversation" }, status: :forbidden)
    end

    Conversation.transaction do
      conversation.update!(assigned_expert_id: nil, status: "waiting")
      ExpertAssignment.where(conversation: conversation, expert: current_user, status: "active")
                      .update_all(status: "unassigned", resolved_at: Time.now.utc, updated_at: Time.now.utc)
    end
    render json: { success: true }
  end
end
